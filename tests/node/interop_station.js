#!/usr/bin/env node
/* An OCPP 2.0.1 charging station built on ocpp-rpc (an independent OCPP-J
 * implementation, tests/node/package.json), in strict mode: every CALL we
 * send, every CALL the CSMS sends us and every CALLRESULT either way is
 * validated against ocpp-rpc's own copy of the OCPP 2.0.1 schemas.
 *
 *   node interop_station.js URL STATION_ID [options]
 *
 *   URL            the CSMS endpoint without the station id, ws://HOST:PORT/ocpp
 *   --protocol P   ocpp2.0.1 (default) or ocpp2.1, validated against
 *                  ocpp-rpc's schemas for that version
 *   --evse N       EVSE id (1); the station has one connector per EVSE, id 1
 *   --voltage V    phase voltage for W <-> A conversions (230)
 *   --phases N     phases the EVSE charges on (3)
 *   --max-w W      the EVSE's own limit, used when no profile applies (22000)
 *   --no-bad-calls skip the deliberately invalid calls
 *   --answer-delay-ms MS  answer SetChargingProfile after MS ms (a slow station)
 *   --max-seconds S  give up (exit 3) after S seconds (120)
 *
 * Start-up: BootNotification, StatusNotification (the EVSE Available),
 * Heartbeat, then deliberately invalid calls (BootNotification without its
 * required chargingStation, and with a property the schema forbids), sent
 * with outbound validation off for that one call; the CSMS must answer each
 * with a CALLERROR that ocpp-rpc turns into the matching RPCError class.
 * Then {"event":"ready"}, and the station serves the CSMS:
 * SetChargingProfile (remembered, Accepted), GetCompositeSchedule (built from
 * the remembered profiles, in the unit asked), ClearChargingProfile,
 * GetChargingProfiles, GetVariables/SetVariables (a small device model),
 * ChangeAvailability, TriggerMessage, Reset and DataTransfer; anything else
 * is answered NotSupported.
 *
 * stdin takes JSON lines: {"cmd":"call","action":A,"params":P} (a call
 * answered by {"event":"result"} or {"event":"call_error"}), {"cmd":"exit"}.
 * EOF on stdin is an exit too.
 *
 * stdout: one JSON object a line, {"event": ..., ...}, for every step, every
 * inbound call and our answer to it, every validation failure ocpp-rpc
 * reports ('strictValidationFailure'), every message it could not use
 * ('badMessage'), every unexpected error. Exit status: 0 when nothing
 * unexpected happened, 1 otherwise, 2 on bad arguments, 3 on --max-seconds. */
'use strict';

const path = require('path');
const readline = require('readline');

let rpc;
try {
    rpc = require(path.join(__dirname, 'node_modules', 'ocpp-rpc'));
} catch (e) {
    process.stderr.write('ocpp-rpc is not installed: run packaging/install-deps.sh\n');
    process.exit(2);
}
const { RPCClient, createRPCError } = rpc;
const standardValidators = require(path.join(__dirname, 'node_modules', 'ocpp-rpc', 'lib',
                                             'standard-validators'));

const PROTOCOLS = ['ocpp2.0.1', 'ocpp2.1'];

/* ---- arguments ------------------------------------------------------------ */

function usage(msg) {
    process.stderr.write(`${msg}\nusage: node interop_station.js URL STATION_ID ` +
                         '[--protocol P] [--evse N] [--voltage V] [--phases N] [--max-w W] ' +
                         '[--no-bad-calls] [--max-seconds S]\n');
    process.exit(2);
}

const opts = { protocol: 'ocpp2.0.1', evse: 1, voltage: 230, phases: 3, maxW: 22000, badCalls: true, maxSeconds: 120,
               answerDelayMs: 0 };
const positional = [];
{
    const argv = process.argv.slice(2);
    const num = (i, name) => {
        const v = Number(argv[i]);
        if (argv[i] === undefined || !Number.isFinite(v) || v <= 0)
            usage(`${name} needs a positive number`);
        return v;
    };
    for (let i = 0; i < argv.length; i++) {
        switch (argv[i]) {
        case '--protocol':
            opts.protocol = argv[++i];
            if (!PROTOCOLS.includes(opts.protocol))
                usage(`--protocol: one of ${PROTOCOLS.join(', ')}`);
            break;
        case '--evse': opts.evse = num(++i, '--evse'); break;
        case '--voltage': opts.voltage = num(++i, '--voltage'); break;
        case '--phases': opts.phases = num(++i, '--phases'); break;
        case '--max-w': opts.maxW = num(++i, '--max-w'); break;
        case '--max-seconds': opts.maxSeconds = num(++i, '--max-seconds'); break;
        case '--no-bad-calls': opts.badCalls = false; break;
        case '--answer-delay-ms': opts.answerDelayMs = num(++i, '--answer-delay-ms'); break;
        default:
            if (argv[i].startsWith('--'))
                usage(`unknown option ${argv[i]}`);
            positional.push(argv[i]);
        }
    }
    if (positional.length !== 2)
        usage('URL and STATION_ID are required');
}
const [endpoint, identity] = positional;
const PROTOCOL = opts.protocol;

/* ---- reporting -------------------------------------------------------------- */

let unexpected = 0;

function report(event, fields) {
    process.stdout.write(JSON.stringify(Object.assign({ event, t: Date.now() / 1000 },
                                                      fields)) + '\n');
}

function fail(what, fields) {
    unexpected++;
    report('unexpected', Object.assign({ what }, fields));
}

function errInfo(err) {
    if (!err)
        return null;
    return {
        class: err.constructor && err.constructor.name,
        code: err.rpcErrorCode,
        message: err.message,
        details: err.details,
    };
}

/* ---- strict mode, with a way to send one call unvalidated --------------------- */

/* ocpp-rpc validates an outbound CALL with the subprotocol's Validator; this
 * one delegates to ocpp-rpc's own standard validator for ocpp2.0.1 (its own
 * copy of the schemas), except for a CALL payload carrying the UNCHECKED
 * symbol, which is how the deliberately wrong calls get out. Symbol keys do
 * not appear in JSON, so the CSMS sees exactly the payload. */
const UNCHECKED = Symbol('unchecked');
const stock = standardValidators.find(v => v.subprotocol === PROTOCOL);
/* ocpp-rpc 2.2.1 looks schemas up as urn:Action.req / urn:Action.conf, but
 * its ocpp2.1 schema file names them urn:ActionRequest / urn:ActionResponse,
 * so its strict mode fails every 2.1 message with "Schema ... is missing";
 * for 2.1 the name is translated (same schemas, same validator). */
const schemaName = PROTOCOL === 'ocpp2.1'
    ? (id) => id.replace(/\.req$/, 'Request').replace(/\.conf$/, 'Response')
    : (id) => id;
const validator = {
    subprotocol: PROTOCOL,
    validate(schemaId, params) {
        if (params && typeof params === 'object' && params[UNCHECKED])
            return true;
        return stock.validate(schemaName(schemaId), params);
    },
};

const client = new RPCClient({
    endpoint,
    identity,
    protocols: [PROTOCOL],
    strictMode: true,
    strictModeValidators: [validator],
    reconnect: false,
    callTimeoutMs: 10000,
});

client.on('strictValidationFailure', (e) => {
    fail('strictValidationFailure', {
        method: e.method, outbound: e.outbound, isCall: e.isCall, messageId: e.messageId,
        params: e.params, result: e.result, error: errInfo(e.error),
    });
});
client.on('badMessage', (e) => {
    fail('badMessage', { message: e.buffer && e.buffer.toString('utf8'),
                         error: errInfo(e.error), response: e.response });
});
client.on('socketError', (err) => fail('socketError', { error: String(err) }));

let closing = false;
client.on('close', (e) => {
    if (!closing)
        fail('closed by the CSMS', { code: e.code, reason: e.reason });
    finish();
});
client.on('call', (e) => {
    if (!e.outbound) {
        const [, messageId, action, params] = e.payload;
        report('call', { messageId, action, params });
    }
});
client.on('callError', (e) => {
    if (!e.outbound)
        report('call_answered_error', { messageId: e.messageId, action: e.method,
                                        error: errInfo(e.error) });
});

/* ---- our calls ------------------------------------------------------------------ */

const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

let lastStatus = 'Available'; /* what TriggerMessage StatusNotification repeats */

async function call(action, params) {
    report('send', { action, params });
    try {
        const result = await client.call(action, params);
        if (action === 'StatusNotification' && params.evseId === evse)
            lastStatus = params.connectorStatus;
        report('result', { action, params, result });
        return result;
    } catch (err) {
        report('call_error', { action, params, error: errInfo(err) });
        fail(`${action} failed`, { error: errInfo(err) });
        return null;
    }
}

/* A call the CSMS must refuse with a CALLERROR of class `expected`. */
async function badCall(name, action, params, expected) {
    const p = Object.assign({}, params);
    p[UNCHECKED] = true;
    report('send', { action, params: p, deliberately_invalid: name });
    let got = null;
    try {
        const result = await client.call(action, p);
        report('bad_call', { name, action, expected, ok: false, result });
    } catch (err) {
        got = errInfo(err);
    }
    if (got) {
        const ok = got.class === expected;
        report('bad_call', { name, action, expected, ok, error: got });
        if (!ok)
            fail(`${name}: expected ${expected}`, { error: got });
    } else {
        fail(`${name}: the CSMS accepted an invalid ${action}`, {});
    }
}

const evse = opts.evse;
const BOOT = { reason: 'PowerUp',
               chargingStation: { model: 'ocpp-rpc-station', vendorName: 'flexgw-interop' } };

/* ---- charging profiles ------------------------------------------------------------ */

const profiles = new Map(); /* id -> {evseId, profile, received} */

function toUnit(limit, from, to, numberPhases) {
    if (from === to)
        return limit;
    const k = opts.voltage * (numberPhases || opts.phases);
    const v = from === 'A' ? limit * k : limit / k;
    return Math.round(v * 10) / 10; /* "at most one digit fraction" */
}

function scheduleStartMs(profile, schedule, received) {
    if (schedule.startSchedule)
        return Date.parse(schedule.startSchedule);
    if (profile.validFrom)
        return Date.parse(profile.validFrom);
    return received;
}

/* The limit one profile puts on time t (ms), in `unit`, or null. */
function profileLimitAt(entry, t, unit) {
    const p = entry.profile;
    if (p.validFrom && t < Date.parse(p.validFrom))
        return null;
    if (p.validTo && t >= Date.parse(p.validTo))
        return null;
    const s = p.chargingSchedule[0];
    const start = scheduleStartMs(p, s, entry.received);
    const rel = (t - start) / 1000;
    if (rel < 0 || (s.duration !== undefined && rel >= s.duration))
        return null;
    let period = null;
    for (const per of s.chargingSchedulePeriod) {
        if (per.startPeriod <= rel)
            period = per;
    }
    if (!period)
        return null;
    return toUnit(period.limit, s.chargingRateUnit, unit, period.numberPhases);
}

/* The composite limit at t: of the profiles that apply to the EVSE (its own
 * and the station-wide evseId 0 ones), per purpose the highest stack level,
 * the lowest over purposes; TxDefault gives way to Tx. */
function compositeAt(evseId, t, unit) {
    const best = new Map(); /* purpose -> {stackLevel, limit} */
    for (const e of profiles.values()) {
        if (e.evseId !== evseId && e.evseId !== 0)
            continue;
        const lim = profileLimitAt(e, t, unit);
        if (lim === null)
            continue;
        const purpose = e.profile.chargingProfilePurpose;
        const cur = best.get(purpose);
        if (!cur || e.profile.stackLevel > cur.stackLevel)
            best.set(purpose, { stackLevel: e.profile.stackLevel, limit: lim });
    }
    if (best.has('TxProfile'))
        best.delete('TxDefaultProfile');
    let limit = toUnit(opts.maxW, 'W', unit);
    for (const v of best.values())
        limit = Math.min(limit, v.limit);
    return limit;
}

/* Every instant within [t0, t1) at which some profile's limit may change. */
function breakpoints(t0, t1) {
    const pts = new Set([t0]);
    const add = (t) => { if (t > t0 && t < t1) pts.add(t); };
    for (const e of profiles.values()) {
        const p = e.profile;
        const s = p.chargingSchedule[0];
        const start = scheduleStartMs(p, s, e.received);
        if (p.validFrom) add(Date.parse(p.validFrom));
        if (p.validTo) add(Date.parse(p.validTo));
        for (const per of s.chargingSchedulePeriod)
            add(start + per.startPeriod * 1000);
        if (s.duration !== undefined)
            add(start + s.duration * 1000);
    }
    return [...pts].sort((a, b) => a - b);
}

function compositeSchedule(evseId, durationS, unit) {
    const t0 = Date.now();
    const t1 = t0 + durationS * 1000;
    const periods = [];
    /* whole seconds from t0: a change within a second counts from its end */
    const starts = new Set(breakpoints(t0, t1).map(t => Math.ceil((t - t0) / 1000)));
    for (const s of [...starts].sort((a, b) => a - b)) {
        if (s >= durationS)
            break;
        const limit = compositeAt(evseId, t0 + s * 1000, unit);
        if (periods.length && periods[periods.length - 1].limit === limit)
            continue;
        periods.push({ startPeriod: s, limit });
    }
    return { evseId, duration: durationS, scheduleStart: new Date(t0).toISOString(),
             chargingRateUnit: unit, chargingSchedulePeriod: periods };
}

/* ---- the CSMS's calls ------------------------------------------------------------------ */

function answer(action, result) {
    report('answer', { action, result });
    return result;
}

client.handle('SetChargingProfile', async ({ params }) => {
    if (opts.answerDelayMs)
        await new Promise(r => setTimeout(r, opts.answerDelayMs));
    const p = params.chargingProfile;
    if (params.evseId !== 0 && params.evseId !== evse)
        return answer('SetChargingProfile', { status: 'Rejected',
                                              statusInfo: { reasonCode: 'UnknownEVSE' } });
    if (p.chargingProfilePurpose === 'ChargingStationMaxProfile' && params.evseId !== 0)
        return answer('SetChargingProfile', { status: 'Rejected',
                                              statusInfo: { reasonCode: 'InvalidValue' } });
    if (p.chargingProfilePurpose === 'TxProfile' && !p.transactionId)
        return answer('SetChargingProfile', { status: 'Rejected',
                                              statusInfo: { reasonCode: 'TxNotFound' } });
    /* K01.FR.05: a profile with the same id replaces the old one; so does one
     * with the same stack level and purpose on the same EVSE (K01.FR.06). */
    for (const [id, e] of profiles) {
        if (e.evseId === params.evseId && e.profile.stackLevel === p.stackLevel &&
            e.profile.chargingProfilePurpose === p.chargingProfilePurpose)
            profiles.delete(id);
    }
    profiles.set(p.id, { evseId: params.evseId, profile: p, received: Date.now() });
    report('profile', { evseId: params.evseId, id: p.id, profiles: profiles.size });
    return answer('SetChargingProfile', { status: 'Accepted' });
});

client.handle('GetCompositeSchedule', ({ params }) => {
    if (params.evseId !== 0 && params.evseId !== evse)
        return answer('GetCompositeSchedule', { status: 'Rejected',
                                                statusInfo: { reasonCode: 'UnknownEVSE' } });
    let unit = params.chargingRateUnit;
    if (!unit) {
        const own = [...profiles.values()].find(e => e.evseId === params.evseId);
        unit = own ? own.profile.chargingSchedule[0].chargingRateUnit : 'W';
    }
    return answer('GetCompositeSchedule', {
        status: 'Accepted', schedule: compositeSchedule(params.evseId, params.duration, unit) });
});

client.handle('ClearChargingProfile', ({ params }) => {
    const c = params.chargingProfileCriteria || {};
    let n = 0;
    for (const [id, e] of profiles) {
        if (params.chargingProfileId !== undefined && id !== params.chargingProfileId)
            continue;
        if (c.evseId !== undefined && e.evseId !== c.evseId)
            continue;
        if (c.chargingProfilePurpose !== undefined &&
            e.profile.chargingProfilePurpose !== c.chargingProfilePurpose)
            continue;
        if (c.stackLevel !== undefined && e.profile.stackLevel !== c.stackLevel)
            continue;
        profiles.delete(id);
        n++;
    }
    report('profiles_cleared', { cleared: n, profiles: profiles.size });
    /* K10.FR.08: Unknown when no profile matched. */
    return answer('ClearChargingProfile', { status: n ? 'Accepted' : 'Unknown' });
});

client.handle('GetChargingProfiles', ({ params }) => {
    const c = params.chargingProfile || {};
    const hits = [...profiles.values()].filter(e =>
        (params.evseId === undefined || e.evseId === params.evseId) &&
        (!c.chargingProfilePurpose || e.profile.chargingProfilePurpose ===
                                          c.chargingProfilePurpose) &&
        (!c.stackLevel || e.profile.stackLevel === c.stackLevel) &&
        (!c.chargingProfileId || c.chargingProfileId.includes(e.profile.id)));
    if (hits.length) {
        setImmediate(async () => {
            const byEvse = new Map();
            for (const e of hits)
                byEvse.set(e.evseId, [...(byEvse.get(e.evseId) || []), e.profile]);
            const groups = [...byEvse];
            for (let i = 0; i < groups.length; i++) {
                const report = { requestId: params.requestId, chargingLimitSource: 'CSO',
                                 evseId: groups[i][0], chargingProfile: groups[i][1] };
                if (i < groups.length - 1)
                    report.tbc = true;
                await call('ReportChargingProfiles', report);
            }
        });
    }
    return answer('GetChargingProfiles', { status: hits.length ? 'Accepted' : 'NoProfiles' });
});

/* A small device model for GetVariables / SetVariables. */
const variables = new Map([
    ['SmartChargingCtrlr/Enabled', 'true'],
    ['SmartChargingCtrlr/Available', 'true'],
    ['SmartChargingCtrlr/RateUnit', 'A,W'],
    ['SmartChargingCtrlr/PeriodsPerSchedule', '24'],
    ['SmartChargingCtrlr/ProfileStackLevel', '8'],
    ['SmartChargingCtrlr/ChargingProfileMaxStackLevel', '8'],
    ['OCPPCommCtrlr/HeartbeatInterval', '60'],
    ['DeviceDataCtrlr/ItemsPerMessage', '16'],
]);
const varKey = (x) => `${x.component.name}/${x.variable.name}`;

client.handle('GetVariables', ({ params }) => answer('GetVariables', {
    getVariableResult: params.getVariableData.map((d) => {
        const r = { component: d.component, variable: d.variable };
        if (d.attributeType)
            r.attributeType = d.attributeType;
        const v = variables.get(varKey(d));
        if (v === undefined)
            r.attributeStatus = [...variables.keys()].some(k => k.startsWith(
                d.component.name + '/')) ? 'UnknownVariable' : 'UnknownComponent';
        else if (d.attributeType && d.attributeType !== 'Actual')
            r.attributeStatus = 'NotSupportedAttributeType';
        else
            Object.assign(r, { attributeStatus: 'Accepted', attributeValue: v });
        return r;
    }),
}));

client.handle('SetVariables', ({ params }) => answer('SetVariables', {
    setVariableResult: params.setVariableData.map((d) => {
        const r = { component: d.component, variable: d.variable };
        if (d.attributeType)
            r.attributeType = d.attributeType;
        if (varKey(d) === 'OCPPCommCtrlr/HeartbeatInterval' && /^\d+$/.test(d.attributeValue)) {
            variables.set(varKey(d), d.attributeValue);
            r.attributeStatus = 'Accepted';
        } else {
            r.attributeStatus = variables.has(varKey(d)) ? 'Rejected' : 'UnknownVariable';
        }
        return r;
    }),
}));

client.handle('ChangeAvailability', () => answer('ChangeAvailability', { status: 'Accepted' }));
client.handle('Reset', () => answer('Reset', { status: 'Rejected' }));
client.handle('DataTransfer', () => answer('DataTransfer', { status: 'UnknownVendorId' }));

client.handle('TriggerMessage', ({ params }) => {
    const what = {
        BootNotification: () => call('BootNotification', Object.assign({}, BOOT,
                                                                        { reason: 'Triggered' })),
        Heartbeat: () => call('Heartbeat', {}),
        StatusNotification: () => call('StatusNotification', {
            timestamp: now(), connectorStatus: lastStatus, evseId: evse, connectorId: 1 }),
    }[params.requestedMessage];
    if (!what)
        return answer('TriggerMessage', { status: 'NotImplemented' });
    setImmediate(what);
    return answer('TriggerMessage', { status: 'Accepted' });
});

client.handle(({ method }) => {
    report('unhandled', { action: method });
    throw createRPCError('NotSupported', `this station does not handle ${method}`);
});

/* ---- run --------------------------------------------------------------------------------- */

let finished = false;
async function finish() {
    if (finished)
        return;
    finished = true;
    closing = true;
    if (client.state === RPCClient.OPEN)
        await client.close({ code: 1000, reason: 'bye' }).catch(() => {});
    report('exit', { unexpected, profiles: profiles.size });
    process.exit(unexpected ? 1 : 0);
}

async function command(line) {
    if (!line.trim())
        return;
    let c;
    try {
        c = JSON.parse(line);
    } catch (e) {
        fail('bad command', { line });
        return;
    }
    if (c.cmd === 'call')
        await call(c.action, c.params || {});
    else if (c.cmd === 'exit')
        await finish();
    else
        fail('unknown command', { command: c });
}

async function main() {
    setTimeout(() => {
        fail(`still running after ${opts.maxSeconds} s`, {});
        report('exit', { unexpected });
        process.exit(3);
    }, opts.maxSeconds * 1000).unref();

    try {
        await client.connect();
    } catch (err) {
        fail('connect failed', { error: String(err), code: err.code });
        return finish();
    }
    report('connected', { protocol: client.protocol, identity });
    if (client.protocol !== PROTOCOL) {
        fail(`the CSMS chose ${client.protocol}`, {});
        return finish();
    }

    const boot = await call('BootNotification', BOOT);
    if (!boot || boot.status !== 'Accepted') {
        fail('boot not accepted', { result: boot });
        return finish();
    }
    await call('StatusNotification', { timestamp: now(), connectorStatus: 'Available',
                                       evseId: evse, connectorId: 1 });
    await call('Heartbeat', {});

    if (opts.badCalls) {
        await badCall('BootNotification without chargingStation', 'BootNotification',
                      { reason: 'PowerUp' }, 'RPCOccurrenceConstraintViolationError');
        await badCall('BootNotification with an unknown property', 'BootNotification',
                      Object.assign({ firmware: '1.0' }, BOOT), 'RPCFormatViolationError');
        await badCall('StatusNotification with a wrong type', 'StatusNotification',
                      { timestamp: now(), connectorStatus: 'Available', evseId: String(evse),
                        connectorId: 1 }, 'RPCTypeConstraintViolationError');
        await call('Heartbeat', {}); /* the connection is still usable */
    }
    report('ready', { unexpected });

    const rl = readline.createInterface({ input: process.stdin });
    let chain = Promise.resolve();
    rl.on('line', (line) => { chain = chain.then(() => command(line)); });
    rl.on('close', () => { chain.then(finish); });
}

main().catch((err) => {
    fail('exception', { error: String(err && err.stack || err) });
    finish();
});
