// A small HTTP server for clusterctl's cluster mode: a plain
// server.listen(PORT), nothing clusterctl-specific.  Every instance binds
// the same port; clusterctl gives them all the daemon's one socket.
// On SIGINT or SIGTERM it drains: stops accepting, lets the requests in
// flight finish (idle keep-alive connections are closed), then exits.
'use strict';
const http = require('http');

const port = Number(process.env.PORT) || 8000;
const delay = Number(process.env.DELAY_MS) || 0; // simulate slow work

let draining = false;
const server = http.createServer((req, res) => {
	// While draining, each keep-alive connection ends after this answer.
	if (draining) res.setHeader('Connection', 'close');
	setTimeout(() => {
		res.setHeader('Content-Type', 'text/plain');
		res.end(`pid ${process.pid}\n`);
	}, delay);
});
server.keepAliveTimeout = 5000;

server.listen(port, () => {
	console.log(`pid ${process.pid} listening on ${port}`);
	// pm2's convention, for --wait-ready (harmless without it).
	if (process.send) process.send('ready');
});

function drain(sig) {
	if (draining) return;
	draining = true;
	console.log(`pid ${process.pid} got ${sig}: draining`);
	// Stop accepting (the port stays open: the other instances take the
	// new connections).  Node >= 19's close() would also end idle
	// keep-alive connections at once, racing a client that is sending its
	// next request on one: leave them to end after their next answer
	// instead, and end those still idle a second later.
	const closeIdle = server.closeIdleConnections;
	if (closeIdle) server.closeIdleConnections = () => {};
	// In-flight requests finish; close() calls back once all are done.
	server.close(() => process.exit(0));
	if (closeIdle) setTimeout(() => closeIdle.call(server), 1000).unref();
}
process.on('SIGINT', drain);
process.on('SIGTERM', drain);
