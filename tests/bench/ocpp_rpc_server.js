// The reference CSMS of the OCPP benchmark (tests/bench/run.sh): ocpp-rpc's
// RPCServer in strict mode (every call and every answer validated against the
// OCPP 2.0.1 schemas), answering what tests/bench/ocpp_load sends.
//
//   node tests/bench/ocpp_rpc_server.js PORT [HOST]
//
// ocpp-rpc is the version pinned in tests/node (packaging/install-deps.sh
// runs npm ci there). Prints "ready pid=PID port=PORT version=V" on stdout once
// it listens; stops on SIGTERM/SIGINT.
'use strict';

const path = require('path');
const nodeDir = path.join(__dirname, '..', 'node', 'node_modules');
const { RPCServer } = require(path.join(nodeDir, 'ocpp-rpc'));
const { version } = require(path.join(nodeDir, 'ocpp-rpc', 'package.json'));

const port = Number(process.argv[2]);
const host = process.argv[3] || '127.0.0.1';
if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error('usage: node ocpp_rpc_server.js PORT [HOST]');
    process.exit(2);
}

const HEARTBEAT_S = 300;

const server = new RPCServer({
    protocols: ['ocpp2.0.1'],
    strictMode: true,
});

let clients = 0;
server.on('client', (client) => {
    clients++;
    client.on('close', () => clients--);
    client.handle('BootNotification', () => ({
        currentTime: new Date().toISOString(),
        interval: HEARTBEAT_S,
        status: 'Accepted',
    }));
    client.handle('Heartbeat', () => ({ currentTime: new Date().toISOString() }));
    client.handle('StatusNotification', () => ({}));
    client.handle('MeterValues', () => ({}));
});
server.on('error', (err) => console.error('ocpp_rpc_server: error:', err.message));

function stop() {
    server.close({ force: true }).finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 5000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

server.listen(port, host).then(
    () => console.log(`ready pid=${process.pid} port=${port} version=ocpp-rpc@${version}`),
    (err) => {
        console.error('ocpp_rpc_server: cannot listen:', err.message);
        process.exit(1);
    },
);
