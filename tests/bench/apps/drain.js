// Workloads 5 and 7: an HTTP server on $PORT that drains properly on
// SIGINT/SIGTERM: it stops accepting, answers the next request on each open
// keep-alive connection with "Connection: close" (never closing a connection
// under a client that may be sending), and exits when the last one is gone.
// BENCH_WORK=N makes each request burn N iterations of CPU (workload 7).
'use strict';
const http = require('http');
const net = require('net');

const port = Number(process.env.PORT);
const work = Number(process.env.BENCH_WORK || 0);
let draining = false;

function burn(n) {
	let x = 0;
	for (let i = 0; i < n; i++)
		x += Math.sqrt(i) * Math.sin(i);
	return x;
}

const server = http.createServer((req, res) => {
	const body = work > 0 ? String(burn(work)) + '\n' : 'ok\n';
	if (draining)
		res.setHeader('Connection', 'close');
	res.end(body);
});
server.listen(port, '127.0.0.1');

function drain() {
	if (draining)
		return;
	draining = true;
	// net.Server's close only stops accepting; http.Server's would also
	// drop idle keep-alive connections, racing a client's next request.
	net.Server.prototype.close.call(server, () => process.exit(0));
	setTimeout(() => server.closeIdleConnections(), 1000).unref();
	setTimeout(() => process.exit(0), 1400).unref();
}
process.on('SIGINT', drain);
process.on('SIGTERM', drain);
process.on('message', (m) => { if (m === 'shutdown') drain(); });
