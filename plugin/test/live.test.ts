// The data layer against a fake API, a fake EventSource and Vitest's fake clock: the push
// path, the polling fallback, reconnection with backoff, and how the cache merges answers.
import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest';

import {BACKOFF_MAX_MS, LiveStore, parseEtagRevision, resolveBase} from '../webapp/src/live';

import {FakeApi, FakeEventSource, makeBox} from './fakes';

const BASE = 'http://mm.test/plugins/com.openclaw.livestatus';

let api: FakeApi;
let store: LiveStore;

function newStore(opts: {stream?: boolean; random?: () => number} = {}) {
    store = new LiveStore({
        base: BASE,
        fetch: api.fetch as typeof fetch,
        EventSource: opts.stream === false ? null : FakeEventSource,
        random: opts.random ?? (() => 0),
    });
    return store;
}

const settle = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
    vi.useFakeTimers();
    FakeEventSource.reset();
    api = new FakeApi();
});

afterEach(() => {
    store?.close();
    vi.useRealTimers();
});

describe('push path', () => {
    it('subscribes once per page at <base>/api/v1/stream?channels=all and loads the list', async () => {
        api.put(makeBox({id: 'a'}));
        newStore();
        store.watchList();
        store.watchList();
        store.watchBox('a');
        await settle();
        expect(FakeEventSource.all).toHaveLength(1);
        expect(FakeEventSource.last().url).toBe(`${BASE}/api/v1/stream?channels=all`); // no channel source
        expect(FakeEventSource.last().init?.withCredentials).toBe(true);
        expect(store.getRoots().map((b) => b.id)).toEqual(['a']);
        const req = api.requests[0];
        expect(req.credentials).toBe('include');
        expect(req.headers['X-Requested-With']).toBe('XMLHttpRequest');
        expect(store.transport).toBe('connecting');
        FakeEventSource.last().open();
        expect(store.transport).toBe('stream');
    });

    it('asks for the list again when a new list view mounts, sharing one request at a time', async () => {
        api.put(makeBox({id: 'a'}));
        newStore({stream: false});
        store.watchList();
        await settle();
        const n = api.count('/sessions');
        store.watchList(); // the panel opens later, with another view at once
        store.watchList();
        await settle();
        expect(api.count('/sessions')).toBe(n + 1);
        expect(api.requests[api.requests.length - 1].headers['If-None-Match']).toBe(`"${api.revision}"`);
    });

    it('fetches the box named by a notice and tells subscribers', async () => {
        const box = api.put(makeBox({id: 'a', lines: ['one']}));
        newStore();
        const seen = vi.fn();
        store.onChange(seen);
        store.watchList();
        FakeEventSource.last().open();
        await settle();
        const updated = api.put({...box, lines: ['one', 'two']});
        FakeEventSource.last().notice('a', updated.revision);
        await settle();
        expect(store.getBox('a')?.lines).toEqual(['one', 'two']);
        expect(seen).toHaveBeenCalled();
    });

    it('accepts a notice for a box it did not know, and skips notices it already has', async () => {
        newStore();
        store.watchList();
        FakeEventSource.last().open();
        await settle();
        const b = api.put(makeBox({id: 'new'}));
        FakeEventSource.last().notice('new', b.revision);
        await settle();
        expect(store.getRoots().map((x) => x.id)).toEqual(['new']);
        const before = api.count('/sessions/new');
        FakeEventSource.last().notice('new', b.revision); // a duplicate delivery
        FakeEventSource.last().onmessage?.({data: 'not json'});
        await settle();
        expect(api.count('/sessions/new')).toBe(before);
    });

    it('ignores replayed notices that the list already covers', async () => {
        const a = api.put(makeBox({id: 'a'}));
        api.put(makeBox({id: 'gone'}));
        api.boxes.delete('gone'); // deleted before the page loaded
        api.revision++;
        newStore();
        store.watchList();
        FakeEventSource.last().open();
        await settle();
        const before = api.requests.length;
        FakeEventSource.last().notice('a', a.revision);
        FakeEventSource.last().notice('gone', 2);
        FakeEventSource.last().notice('gone', 3);
        await settle();
        expect(api.requests.length).toBe(before);
        FakeEventSource.last().notice('other', api.revision + 1); // news: fetched
        await settle();
        expect(api.requests.length).toBe(before + 1);
    });

    it('puts a sub-agent notice under its parent, at any depth', async () => {
        api.put(makeBox({id: 'root'}));
        newStore();
        store.watchList();
        FakeEventSource.last().open();
        await settle();
        const kid = api.put(makeBox({id: 'kid', parent_id: 'root', label: 'log sizing'}));
        FakeEventSource.last().notice('kid', kid.revision);
        await settle();
        const grand = api.put(makeBox({id: 'grand', parent_id: 'kid', lines: ['deep']}));
        FakeEventSource.last().notice('grand', grand.revision);
        await settle();
        const root = store.getBox('root')!;
        expect(root.children.map((c) => c.id)).toEqual(['kid']);
        expect(root.children[0].children[0].lines).toEqual(['deep']);
        expect(store.getRoots()).toHaveLength(1);
    });

    it('fetches the parent when a child arrives before it', async () => {
        newStore();
        store.watchList();
        FakeEventSource.last().open();
        await settle();
        api.put(makeBox({id: 'p'}));
        const kid = api.put(makeBox({id: 'k', parent_id: 'p'}));
        FakeEventSource.last().notice('k', kid.revision);
        await settle();
        expect(store.getBox('p')?.children.map((c) => c.id)).toEqual(['k']);
    });

    it('drops a box whose GET answers 404 and marks it missing', async () => {
        api.put(makeBox({id: 'gone'}));
        newStore();
        store.watchBox('gone');
        FakeEventSource.last().open();
        await settle();
        expect(store.getBox('gone')).toBeDefined();
        api.boxes.delete('gone');
        api.revision++;
        FakeEventSource.last().notice('gone', api.revision);
        await settle();
        expect(store.getBox('gone')).toBeUndefined();
        expect(store.isMissing('gone')).toBe(true);
    });

    it('coalesces a burst of notices for one box into at most two fetches', async () => {
        let box = api.put(makeBox({id: 'a'}));
        newStore();
        store.watchList();
        FakeEventSource.last().open();
        await settle();
        const before = api.count('/sessions/a');
        for (let i = 0; i < 10; i++) {
            box = api.put({...box, lines: [...box.lines, `line ${i}`]});
            FakeEventSource.last().notice('a', box.revision);
        }
        await settle();
        expect(api.count('/sessions/a') - before).toBe(2);
        expect(store.getBox('a')?.lines).toHaveLength(10);
    });

    it('does not let an older answer replace a newer one', async () => {
        newStore();
        store.watchList();
        await settle();
        (store as any).upsert(makeBox({id: 'a', revision: 5, lines: ['new']}));
        (store as any).upsert(makeBox({id: 'a', revision: 4, lines: ['old']}));
        expect(store.getBox('a')?.lines).toEqual(['new']);
    });
});

describe('reconnect', () => {
    it('backs off 1 s, 2 s, 4 s ... capped at 30 s, and resets after an open', async () => {
        newStore();
        store.watchList();
        FakeEventSource.last().open();
        await settle();
        const delays: number[] = [];
        for (let i = 0; i < 7; i++) {
            const n = FakeEventSource.all.length;
            FakeEventSource.last().fail();
            expect(FakeEventSource.all[n - 1].closed).toBe(true);
            let waited = 0;
            while (FakeEventSource.all.length === n) {
                await vi.advanceTimersByTimeAsync(250);
                waited += 250;
            }
            delays.push(waited);
        }
        expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        FakeEventSource.last().open();
        FakeEventSource.last().fail();
        await vi.advanceTimersByTimeAsync(1000);
        expect(FakeEventSource.last().closed).toBe(false); // back to a 1 s first retry
    });

    it('adds up to 25% jitter without passing the cap', async () => {
        newStore({random: () => 0.999});
        store.watchList();
        FakeEventSource.last().open();
        FakeEventSource.last().fail();
        await vi.advanceTimersByTimeAsync(1200);
        expect(FakeEventSource.all).toHaveLength(1);
        await vi.advanceTimersByTimeAsync(100);
        expect(FakeEventSource.all).toHaveLength(2);
        for (let i = 0; i < 8; i++) {
            FakeEventSource.last().fail();
            await vi.advanceTimersByTimeAsync(BACKOFF_MAX_MS);
        }
        expect(FakeEventSource.all).toHaveLength(10);
    });

    it('polls while the stream is down and refetches everything after it reopens', async () => {
        let box = api.put(makeBox({id: 'a', lines: ['one']}));
        newStore();
        store.watchList();
        FakeEventSource.last().open();
        await settle();
        box = api.put({...box, lines: ['one', 'two']}); // a change whose notice was lost
        FakeEventSource.last().fail();
        expect(store.transport).toBe('reconnecting');
        await settle();
        expect(store.getBox('a')?.lines).toEqual(['one', 'two']); // the poll saw it
        box = api.put({...box, lines: ['one', 'two', 'three']});
        await vi.advanceTimersByTimeAsync(1000);
        FakeEventSource.last().open();
        await settle();
        expect(store.transport).toBe('stream');
        expect(store.getBox('a')?.lines).toEqual(['one', 'two', 'three']);
        const polls = api.count('/sessions');
        await vi.advanceTimersByTimeAsync(10000);
        expect(api.count('/sessions')).toBe(polls); // polling stopped
    });
});

describe('polling fallback', () => {
    it('polls every 2 s with If-None-Match when the stream fails before opening', async () => {
        let box = api.put(makeBox({id: 'a', lines: ['one']}));
        newStore();
        store.watchList();
        await settle();
        FakeEventSource.last().fail(); // nchan absent: 404 on the stream URL
        expect(store.transport).toBe('poll');
        await settle();
        const listCalls = () => api.requests.filter((r) => r.url.endsWith('/api/v1/sessions'));
        const n = listCalls().length;
        await vi.advanceTimersByTimeAsync(2000);
        expect(listCalls()).toHaveLength(n + 1);
        expect(listCalls()[n].headers['If-None-Match']).toBe(`"${api.revision}"`);
        box = api.put({...box, lines: ['one', 'two']});
        await vi.advanceTimersByTimeAsync(2000);
        expect(store.getBox('a')?.lines).toEqual(['one', 'two']);
        await vi.advanceTimersByTimeAsync(60000);
        expect(FakeEventSource.all).toHaveLength(1); // no further stream attempts
    });

    it('treats 304 as unchanged and keeps the same objects', async () => {
        api.put(makeBox({id: 'a'}));
        newStore({stream: false});
        store.watchList();
        await settle();
        const first = store.getRoots();
        await vi.advanceTimersByTimeAsync(4000);
        expect(store.getRoots()).toBe(first);
    });

    it('removes boxes that left the list and keeps polling through network errors', async () => {
        api.put(makeBox({id: 'a'}));
        api.put(makeBox({id: 'b'}));
        newStore({stream: false});
        store.watchList();
        await settle();
        expect(store.getRoots()).toHaveLength(2);
        api.down = true;
        await vi.advanceTimersByTimeAsync(4000);
        api.down = false;
        api.boxes.delete('a');
        api.revision++;
        await vi.advanceTimersByTimeAsync(2000);
        expect(store.getRoots().map((b) => b.id)).toEqual(['b']);
        expect(store.isMissing('a')).toBe(true);
    });

    it('uses polling from the start when the browser has no EventSource', async () => {
        newStore({stream: false});
        store.watchList();
        await settle();
        expect(store.transport).toBe('poll');
        expect(FakeEventSource.all).toHaveLength(0);
    });
});

describe('list snapshots', () => {
    it('keeps a box learned from a notice that is newer than a list answer', async () => {
        newStore();
        store.watchList();
        await settle();
        (store as any).upsert(makeBox({id: 'late', revision: 9}));
        (store as any).applySnapshot([makeBox({id: 'a', revision: 3})], 8);
        expect(store.getRoots().map((b) => b.id).sort()).toEqual(['a', 'late']);
    });

    it('fetches a watched box that the list does not carry', async () => {
        api.put(makeBox({id: 'a'}));
        newStore({stream: false});
        store.watchList();
        await settle();
        store.watchBox('elsewhere');
        await settle();
        expect(api.count('/sessions/elsewhere')).toBe(1);
        expect(store.isMissing('elsewhere')).toBe(true);
    });
});

describe('resolveBase', () => {
    afterEach(() => {
        delete window.__LIVESTATUS_BASE__;
    });
    it('prefers the explicit override, then the site URL, then the page origin', () => {
        expect(resolveBase('https://mm.example.com/')).toBe('https://mm.example.com/plugins/com.openclaw.livestatus');
        expect(resolveBase()).toBe(`${window.location.origin}/plugins/com.openclaw.livestatus`);
        window.__LIVESTATUS_BASE__ = 'http://127.0.0.1:9/x/';
        expect(resolveBase('https://mm.example.com')).toBe('http://127.0.0.1:9/x');
    });
});

describe('parseEtagRevision', () => {
    it('reads the revision of a secret reader and of a Mattermost reader', () => {
        expect(parseEtagRevision('"42"')).toBe(42);
        expect(parseEtagRevision('W/"42"')).toBe(42);
        expect(parseEtagRevision('"42-00ff00ff00ff00ff"')).toBe(42);
        expect(parseEtagRevision('"abc"')).toBeNull();
        expect(parseEtagRevision('')).toBeNull();
    });
});
