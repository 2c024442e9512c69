// Workload 12: the `sticky-session` npm package on Node's cluster module,
// the user-space way to sticky sessions: its master accepts every
// connection, hashes the client's address and passes the connection to a
// worker.  $WORKERS workers of an HTTP server on $PORT answering "pid N";
// CRASHY=1 makes each worker exit abruptly after a random 1-3 s.
'use strict';
const http = require('http');
const sticky = require('sticky-session');

const server = http.createServer((req, res) => res.end(`pid ${process.pid}\n`));
if (sticky.listen(server, Number(process.env.PORT),
    { workers: Number(process.env.WORKERS || 2) })) {
	if (process.env.CRASHY === '1')
		setTimeout(() => process.exit(1), 1000 + Math.random() * 2000);
}
