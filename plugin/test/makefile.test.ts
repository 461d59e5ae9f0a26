// plugin/Makefile as v4.1 users call it: make all, and make health against MM_URL. Dry runs
// (make -n) only: nothing is built, fetched or installed here.
import {execFileSync} from 'node:child_process';
import path from 'node:path';

import {describe, expect, it} from 'vitest';

const dir = path.resolve(__dirname, '..');

function dryRun(args: string[], env: Record<string, string> = {}): string {
    const base: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) {
        if (v !== undefined && k !== 'PLUGIN_URL' && k !== 'MM_URL' && k !== 'MAKEFLAGS' && k !== 'MFLAGS') {
            base[k] = v;
        }
    }
    return execFileSync('make', ['-n', '--no-print-directory', ...args], {cwd: dir, env: {...base, ...env}, encoding: 'utf8'});
}

const healthURL = (out: string) => /"(https?:\/\/[^"]*\/api\/v1\/health)"/.exec(out)?.[1];

describe('make health', () => {
    it('asks the local nginx without PLUGIN_URL or MM_URL', () => {
        expect(healthURL(dryRun(['health']))).toBe('http://127.0.0.1:8080/plugins/com.openclaw.livestatus/api/v1/health');
    });

    it('asks the plugin path under MM_URL when that is set (environment or command line)', () => {
        const want = 'https://mm.example.com/plugins/com.openclaw.livestatus/api/v1/health';
        expect(healthURL(dryRun(['health'], {MM_URL: 'https://mm.example.com/'}))).toBe(want);
        expect(healthURL(dryRun(['health', 'MM_URL=https://mm.example.com']))).toBe(want);
    });

    it('prefers PLUGIN_URL, the API base itself, over MM_URL', () => {
        const out = dryRun(['health', 'PLUGIN_URL=http://10.0.0.5/plugins/com.openclaw.livestatus'], {MM_URL: 'https://mm.example.com'});
        expect(healthURL(out)).toBe('http://10.0.0.5/plugins/com.openclaw.livestatus/api/v1/health');
    });

    it('sends the secret on curl\'s stdin, never on its command line', () => {
        const out = dryRun(['health'], {PLUGIN_SECRET: 's3cret-value'});
        expect(out).toContain('-H @-');
        expect(out).not.toContain('s3cret-value');
    });
});

describe('make all', () => {
    it('exists, is the default goal, and runs the unit tests and the packaging', () => {
        for (const out of [dryRun(['all']), dryRun([])]) {
            expect(out).toContain('vitest run');
            expect(out).toContain('build.mjs --package');
        }
    });
});
