// A small HTTP server for clusterctl's cluster mode: a plain
// server.listen(PORT), nothing clusterctl-specific.  Every instance binds
// the same port; clusterctl gives them all the daemon's one socket.
// On SIGINT or SIGTERM it drains: stops accepting, lets the requests in
// flight finish (idle keep-alive connections are closed), then exits.
'use strict';
const http = require('http');

const port = Number(process.env.PORT) || 8000;
const delay = Number(process.env.DELAY_MS) || 0; // simulate slow work

const server = http.createServer((req, res) => {
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
	console.log(`pid ${process.pid} got ${sig}: draining`);
	// No new connections; in-flight requests finish, then close() calls back.
	server.close(() => process.exit(0));
	// Idle keep-alive connections would hold close() up: end them.
	if (server.closeIdleConnections) server.closeIdleConnections();
}
process.on('SIGINT', drain);
process.on('SIGTERM', drain);
