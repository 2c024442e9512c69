// Workload 12: the same server for clusterctl --sticky: an HTTP server on
// $PORT answering "pid N"; CRASHY=1 makes it exit abruptly after a random
// 1-3 s.
'use strict';
const http = require('http');

http.createServer((req, res) => res.end(`pid ${process.pid}\n`))
	.listen(Number(process.env.PORT));
if (process.env.CRASHY === '1')
	setTimeout(() => process.exit(1), 1000 + Math.random() * 2000);
