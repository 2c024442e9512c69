// Workload 6: the same HTTP server as drain.js, but each instance dies
// abruptly (exit status 1, no draining) after a random 1-3 s.
'use strict';
const http = require('http');

const port = Number(process.env.PORT);
http.createServer((req, res) => res.end('ok\n')).listen(port, '127.0.0.1');
setTimeout(() => process.exit(1), 1000 + Math.random() * 2000);
