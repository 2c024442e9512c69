// Node's own cluster module as a manager: `node cluster.js APP.js` runs
// $WORKERS (default 2) workers of APP.js sharing its port, forks a new one
// when one exits, and stops them all on SIGINT/SIGTERM.
'use strict';
const cluster = require('cluster');

const workers = Number(process.env.WORKERS || 2);
let stopping = false;

cluster.setupPrimary({ exec: process.argv[2] });
for (let i = 0; i < workers; i++)
	cluster.fork();
cluster.on('exit', () => {
	if (!stopping)
		cluster.fork();
});
function stop() {
	stopping = true;
	for (const id in cluster.workers)
		cluster.workers[id].process.kill('SIGKILL');
	process.exit(0);
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
