#!/usr/bin/env node
/* Checks tests/node/interop_station.js itself, before flexgw is blamed for
 * anything it reports: ocpp-rpc's own RPCServer in strict mode plays the CSMS
 * and makes every call the station serves (SetChargingProfile in W and in A,
 * GetCompositeSchedule in both units, ClearChargingProfile, GetChargingProfiles,
 * GetVariables, SetVariables, ChangeAvailability, TriggerMessage, Reset,
 * DataTransfer, and one it does not serve). Both ends validate everything,
 * so an invalid answer from the station fails here. Prints one JSON line per
 * check; exits 0 when every check passed. */
'use strict';

const path = require('path');
const { spawn } = require('child_process');
const { RPCServer } = require(path.join(__dirname, 'node_modules', 'ocpp-rpc'));

let failures = 0;
function check(name, ok, detail) {
    if (!ok)
        failures++;
    process.stdout.write(JSON.stringify({ check: name, ok: !!ok, detail }) + '\n');
}

const iso = (ms) => new Date(ms).toISOString();

async function main() {
    const server = new RPCServer({ protocols: ['ocpp2.0.1'], strictMode: true });
    const got = new Promise((resolve) => server.on('client', resolve));
    const http = await server.listen(0, '127.0.0.1');
    const port = http.address().port;

    const station = spawn(process.execPath, [path.join(__dirname, 'interop_station.js'),
                                             `ws://127.0.0.1:${port}/ocpp`, 'SELF1', '--no-bad-calls',
                                             '--max-seconds', '60'],
                          { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = [];
    let buf = '';
    station.stdout.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
            lines.push(JSON.parse(buf.slice(0, i)));
            buf = buf.slice(i + 1);
        }
    });
    const exited = new Promise((resolve) => station.on('exit', resolve));

    const client = await got;
    client.on('strictValidationFailure', (e) => check('CSMS-side strict validation', false,
                                                       { method: e.method, error: e.error.message }));
    const calls = [];
    client.handle(({ method, params }) => {
        calls.push(method);
        switch (method) {
        case 'BootNotification':
            return { currentTime: iso(Date.now()), interval: 60, status: 'Accepted' };
        case 'Heartbeat': return { currentTime: iso(Date.now()) };
        default: return {};
        }
    });
    for (let i = 0; i < 100 && !lines.some(l => l.event === 'ready'); i++)
        await new Promise(r => setTimeout(r, 50));
    check('station ready', lines.some(l => l.event === 'ready'));

    const now = Date.now();
    let r = await client.call('SetChargingProfile', { evseId: 1, chargingProfile: {
        id: 1, stackLevel: 0, chargingProfilePurpose: 'TxDefaultProfile',
        chargingProfileKind: 'Absolute', validTo: iso(now + 600e3),
        chargingSchedule: [{ id: 1, startSchedule: iso(now - 1000), chargingRateUnit: 'W',
                             chargingSchedulePeriod: [{ startPeriod: 0, limit: 7000 }] }] } });
    check('SetChargingProfile W', r.status === 'Accepted', r);
    r = await client.call('GetCompositeSchedule', { evseId: 1, duration: 900,
                                                    chargingRateUnit: 'W' });
    const p = r.schedule && r.schedule.chargingSchedulePeriod;
    check('GetCompositeSchedule W', r.status === 'Accepted' && p[0].limit === 7000 &&
          p.length === 2 && p[1].limit === 22000 && Math.abs(p[1].startPeriod - 600) <= 2, r);
    r = await client.call('GetCompositeSchedule', { evseId: 1, duration: 300,
                                                    chargingRateUnit: 'A' });
    check('GetCompositeSchedule A', r.status === 'Accepted' &&
          r.schedule.chargingSchedulePeriod[0].limit === 10.1, r);
    r = await client.call('SetChargingProfile', { evseId: 1, chargingProfile: {
        id: 2, stackLevel: 1, chargingProfilePurpose: 'TxDefaultProfile',
        chargingProfileKind: 'Relative',
        chargingSchedule: [{ id: 2, duration: 120, chargingRateUnit: 'A',
                             chargingSchedulePeriod: [{ startPeriod: 0, limit: 8,
                                                        numberPhases: 1 }] }] } });
    check('SetChargingProfile A', r.status === 'Accepted', r);
    r = await client.call('GetCompositeSchedule', { evseId: 1, duration: 300 });
    const q = r.schedule && r.schedule.chargingSchedulePeriod;
    check('GetCompositeSchedule default unit', r.status === 'Accepted' &&
          q.map(x => x.limit).join() === '1840,7000' && q[0].startPeriod === 0 &&
          Math.abs(q[1].startPeriod - 120) <= 1, r);
    r = await client.call('GetChargingProfiles', { requestId: 7, chargingProfile: {
        chargingProfilePurpose: 'TxDefaultProfile' } });
    check('GetChargingProfiles', r.status === 'Accepted', r);
    r = await client.call('ClearChargingProfile', { chargingProfileId: 2 });
    check('ClearChargingProfile by id', r.status === 'Accepted', r);
    r = await client.call('ClearChargingProfile', { chargingProfileId: 99 });
    check('ClearChargingProfile unknown', r.status === 'Unknown', r);
    r = await client.call('ClearChargingProfile', { chargingProfileCriteria: { evseId: 1 } });
    check('ClearChargingProfile by criteria', r.status === 'Accepted', r);
    r = await client.call('GetCompositeSchedule', { evseId: 1, duration: 60,
                                                    chargingRateUnit: 'W' });
    check('GetCompositeSchedule without profiles', r.status === 'Accepted' &&
          r.schedule.chargingSchedulePeriod.length === 1, r);
    r = await client.call('GetVariables', { getVariableData: [
        { component: { name: 'SmartChargingCtrlr' }, variable: { name: 'RateUnit' } },
        { component: { name: 'SmartChargingCtrlr' }, variable: { name: 'Nope' } },
        { component: { name: 'Nope' }, variable: { name: 'Nope' } }] });
    check('GetVariables', r.getVariableResult.map(x => x.attributeStatus).join() ===
          'Accepted,UnknownVariable,UnknownComponent', r);
    r = await client.call('SetVariables', { setVariableData: [
        { component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' },
          attributeValue: '30' }] });
    check('SetVariables', r.setVariableResult[0].attributeStatus === 'Accepted', r);
    r = await client.call('ChangeAvailability', { operationalStatus: 'Operative' });
    check('ChangeAvailability', r.status === 'Accepted', r);
    r = await client.call('TriggerMessage', { requestedMessage: 'StatusNotification' });
    check('TriggerMessage', r.status === 'Accepted', r);
    r = await client.call('Reset', { type: 'Immediate' });
    check('Reset', r.status === 'Rejected', r);
    r = await client.call('DataTransfer', { vendorId: 'x' });
    check('DataTransfer', r.status === 'UnknownVendorId', r);
    try {
        await client.call('GetLog', { log: { remoteLocation: 'ftp://x' }, logType: 'DiagnosticsLog',
                                      requestId: 1 });
        check('unhandled call refused', false);
    } catch (err) {
        check('unhandled call refused', err.rpcErrorCode === 'NotSupported', err.message);
    }
    await new Promise(r => setTimeout(r, 300));
    check('report and trigger arrived', calls.includes('ReportChargingProfiles') &&
          calls.filter(c => c === 'StatusNotification').length >= 2, calls);

    station.stdin.end(JSON.stringify({ cmd: 'exit' }) + '\n');
    const code = await exited;
    const bad = lines.filter(l => l.event === 'unexpected');
    check('station exit 0, nothing unexpected', code === 0 && !bad.length, { code, bad });
    await server.close({ force: true });
    process.exit(failures ? 1 : 0);
}

main().catch((err) => {
    process.stdout.write(JSON.stringify({ check: 'exception', ok: false,
                                          detail: String(err.stack || err) }) + '\n');
    process.exit(1);
});
