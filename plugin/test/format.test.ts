import {describe, expect, it} from 'vitest';

import {elapsedOf, formatElapsed, formatTokens, parseLine, permalinkPath} from '../webapp/src/format';

import {makeBox} from './fakes';

describe('formatElapsed', () => {
    it.each([
        [0, '0s'],
        [999, '0s'],
        [42_000, '42s'],
        [60_000, '1m 00s'],
        [187_000, '3m 07s'],
        [3_600_000, '1h 00m'],
        [3_725_000, '1h 02m'],
        [-5000, '0s'],
    ])('%i ms reads %s', (ms, text) => {
        expect(formatElapsed(ms)).toBe(text);
    });

    it('counts to now while active and to the end once finished', () => {
        const b = makeBox({start_time_ms: 1000});
        expect(elapsedOf(b, 13_000)).toBe('12s');
        expect(elapsedOf({...b, status: 'done', end_time_ms: 6000}, 99_000)).toBe('5s');
    });
});

describe('formatTokens', () => {
    it.each([
        [0, '0 tokens'],
        [999, '999 tokens'],
        [1000, '1k tokens'],
        [12_400, '12.4k tokens'],
        [12_449, '12.4k tokens'],
        [999_949, '999.9k tokens'],
        [999_950, '1M tokens'],
        [2_345_678, '2.3M tokens'],
    ])('%i reads %s', (n, text) => {
        expect(formatTokens(n)).toBe(text);
    });
});

describe('parseLine', () => {
    it('splits the result mark off tool lines', () => {
        expect(parseLine('exec: df -h / [OK]')).toEqual({kind: 'ok', text: 'exec: df -h /', mark: '[OK]'});
        expect(parseLine('exec: false [ERR]')).toEqual({kind: 'err', text: 'exec: false', mark: '[ERR]'});
    });
    it('recognises sub-agent starts and compaction notes', () => {
        expect(parseLine('Sub-agent: log sizing').kind).toBe('sub');
        expect(parseLine('[session compacted - continuing]').kind).toBe('note');
    });
    it('leaves other text alone, including a mark that is not at the end', () => {
        expect(parseLine('the [ERR] tag means failure').kind).toBe('text');
        expect(parseLine('exec: sleep 5').kind).toBe('text');
    });
});

describe('permalinkPath', () => {
    it('prefers the thread root, then the post, else nothing', () => {
        expect(permalinkPath(makeBox({root_id: 'r', post_id: 'p'}))).toBe('/_redirect/pl/r');
        expect(permalinkPath(makeBox({root_id: '', post_id: 'p'}))).toBe('/_redirect/pl/p');
        expect(permalinkPath(makeBox({root_id: '', post_id: ''}))).toBeNull();
    });
});
