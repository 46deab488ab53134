// Forwarding and masquerading for a bridge network, set once per network as Docker and netavark
// do, not per container as CNI's bridge ipMasq and firewall plugin do: those cost ~8 iptables
// processes on every container start and as many on every stop (~90 ms of a `run --rm`).
//
//   filter FORWARD → KILN-FORWARD:  -o BR conntrack RELATED,ESTABLISHED → ACCEPT   (replies in)
//                                   -i BR → ACCEPT         (out; internal networks: only -o BR too)
//   nat POSTROUTING → KILN-POSTROUTING:  -s SUBNET ! -o BR ! -d 224.0.0.0/4 → MASQUERADE  (not internal)
//
// The ACCEPTs matter because dockerd sets the FORWARD policy to DROP (machine-notes §5). A marker
// under /run/kiln (tmpfs, like the rules themselves) records that a bridge's rules are in place,
// so later containers spawn nothing; rules flushed behind kiln's back come back after a reboot
// or a `network rm`/create, as Docker's do after a daemon restart.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withFileLock } from './lock.js';

export const NETFILTER_STATE_DIR = '/run/kiln/netfilter';
const FORWARD_CHAIN = 'KILN-FORWARD';
const NAT_CHAIN = 'KILN-POSTROUTING';

export interface BridgeRules {
  bridge: string;
  subnet: string;
  internal: boolean;
}

function rules(n: BridgeRules): { table: 'filter' | 'nat'; chain: string; spec: string[] }[] {
  const comment = ['-m', 'comment', '--comment', `kiln ${n.bridge}`];
  const out: { table: 'filter' | 'nat'; chain: string; spec: string[] }[] = [
    { table: 'filter', chain: FORWARD_CHAIN, spec: ['-o', n.bridge, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', ...comment, '-j', 'ACCEPT'] },
    { table: 'filter', chain: FORWARD_CHAIN, spec: ['-i', n.bridge, ...(n.internal ? ['-o', n.bridge] : []), ...comment, '-j', 'ACCEPT'] },
  ];
  if (!n.internal) {
    out.push({ table: 'nat', chain: NAT_CHAIN, spec: ['-s', n.subnet, '!', '-o', n.bridge, '!', '-d', '224.0.0.0/4', ...comment, '-j', 'MASQUERADE'] });
  }
  return out;
}

function iptables(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('iptables', ['-w', ...args], (err, _stdout, stderr) => {
      if (err && typeof (err as NodeJS.ErrnoException).code === 'string') return reject(err);
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr });
    });
  });
}

async function must(args: string[]): Promise<void> {
  const r = await iptables(args);
  if (r.code !== 0) throw new Error(`iptables ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
}

/** -C, then -A/-I when absent: idempotent, and safe under the lock below. */
async function ensureRule(table: string, chain: string, spec: string[], insert = false): Promise<void> {
  if ((await iptables(['-t', table, '-C', chain, ...spec])).code === 0) return;
  await must(['-t', table, ...(insert ? ['-I', chain, '1'] : ['-A', chain]), ...spec]);
}

async function ensureChain(table: string, chain: string, from: string): Promise<void> {
  const r = await iptables(['-t', table, '-N', chain]);
  if (r.code !== 0 && !/exists/i.test(r.stderr)) throw new Error(`iptables -t ${table} -N ${chain}: ${r.stderr.trim()}`);
  await ensureRule(table, from, ['-j', chain], true);
}

const markerOf = (bridge: string) => join(NETFILTER_STATE_DIR, bridge);

function readMarker(bridge: string): BridgeRules | undefined {
  try {
    return JSON.parse(readFileSync(markerOf(bridge), 'utf8')) as BridgeRules;
  } catch {
    return undefined;
  }
}

const same = (a: BridgeRules | undefined, b: BridgeRules) => !!a && a.subnet === b.subnet && a.internal === b.internal;

/** The network's rules, installed unless the marker says they already are (the usual case: no process). */
export async function ensureBridgeRules(n: BridgeRules): Promise<void> {
  if (same(readMarker(n.bridge), n)) return;
  mkdirSync(NETFILTER_STATE_DIR, { recursive: true });
  await withFileLock(join(NETFILTER_STATE_DIR, '.lock'), async () => {
    const old = readMarker(n.bridge);
    if (same(old, n)) return;
    if (old) await deleteRules(old); // the bridge name now serves another subnet
    await ensureChain('filter', FORWARD_CHAIN, 'FORWARD');
    await ensureChain('nat', NAT_CHAIN, 'POSTROUTING');
    for (const r of rules(n)) await ensureRule(r.table, r.chain, r.spec);
    writeFileSync(markerOf(n.bridge), JSON.stringify(n));
  });
}

async function deleteRules(n: BridgeRules): Promise<void> {
  for (const r of rules(n)) {
    while ((await iptables(['-t', r.table, '-D', r.chain, ...r.spec])).code === 0) {
      /* duplicates, if any, go too */
    }
  }
}

/** `network rm`: the network's rules and marker (the shared KILN-* chains stay, like Docker's). */
export async function removeBridgeRules(n: BridgeRules): Promise<void> {
  mkdirSync(NETFILTER_STATE_DIR, { recursive: true });
  await withFileLock(join(NETFILTER_STATE_DIR, '.lock'), async () => {
    await deleteRules(readMarker(n.bridge) ?? n);
    rmSync(markerOf(n.bridge), { force: true });
  });
}

