// The stream's channel list: which channels the store subscribes to, reopening when the set
// changes, the one retry after a failure before open (a 403), and the 30 s list refresh.
import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest';

import {
    ChannelHint,
    LiveStore,
    MAX_STREAM_CHANNELS,
    REFRESH_MS,
    RESUBSCRIBE_MS,
    channelsFromState,
    pickChannels,
} from '../webapp/src/live';

import {FakeApi, FakeEventSource, makeBox} from './fakes';

const BASE = 'http://mm.test/plugins/com.openclaw.livestatus';
const STREAM = `${BASE}/api/v1/stream?channels=`;

// A valid Mattermost channel id: 26 of [a-z0-9].
const cid = (name: string) => name.padEnd(26, '0');

let api: FakeApi;
let store: LiveStore;
let hint: ChannelHint | null;

function newStore(opts: {source?: boolean} = {}) {
    store = new LiveStore({
        base: BASE,
        fetch: api.fetch as typeof fetch,
        EventSource: FakeEventSource,
        random: () => 0,
        channels: opts.source === false ? undefined : () => hint,
    });
    return store;
}

const settle = () => vi.advanceTimersByTimeAsync(0);
const channelsOf = (es: FakeEventSource) => new URL(es.url).searchParams.get('channels');
const listCalls = () => api.requests.filter((r) => r.url.endsWith('/api/v1/sessions'));

beforeEach(() => {
    vi.useFakeTimers();
    FakeEventSource.reset();
    api = new FakeApi();
    hint = {current: cid('town'), members: [cid('town'), cid('dev')]};
});

afterEach(() => {
    store?.close();
    vi.useRealTimers();
});

describe('the stream URL', () => {
    it('is channels=all without a channel source', async () => {
        newStore({source: false});
        store.watchList();
        await settle();
        expect(FakeEventSource.last().url).toBe(`${STREAM}all`);
        expect(FakeEventSource.last().init?.withCredentials).toBe(true);
    });

    it('names the current channel and the memberships, sorted, without repeats', async () => {
        newStore();
        store.watchList();
        await settle();
        expect(FakeEventSource.all).toHaveLength(1);
        expect(FakeEventSource.last().url).toBe(`${STREAM}${cid('dev')},${cid('town')}`);
    });

    it('adds the channels of the boxes in the list, and drops ids that are not channel ids', async () => {
        api.put(makeBox({id: 'a', channel_id: cid('ops')}));
        api.put(makeBox({id: 'b', channel_id: ''}));
        api.put(makeBox({id: 'c', channel_id: 'c1'}));
        hint = {current: 'Not-A-Channel', members: [cid('town'), 'all', '../x', cid('dev'), cid('town')]};
        newStore();
        store.watchList();
        await settle();
        expect(store.streamChannels()).toBe([cid('dev'), cid('ops'), cid('town')].join(','));
    });

    it('keeps at most 64: the current channel, then box channels, then the most recent memberships', () => {
        const members = Array.from({length: 100}, (_, i) => cid(`m${String(i).padStart(3, '0')}`));
        const got = pickChannels([[cid('here')], [cid('box1'), cid('box2')], members]);
        expect(got).toHaveLength(MAX_STREAM_CHANNELS);
        expect(got).toContain(cid('here'));
        expect(got).toContain(cid('box1'));
        expect(got).toContain(cid('box2'));
        expect(got).toContain(members[60]);
        expect(got).not.toContain(members[61]);
        expect([...got].sort()).toEqual(got);
    });

    it('caps a real store too', async () => {
        hint = {current: cid('here'), members: Array.from({length: 80}, (_, i) => cid(`m${i}`))};
        newStore();
        store.watchList();
        await settle();
        expect(channelsOf(FakeEventSource.last())!.split(',')).toHaveLength(64);
    });

    it('counts a null or throwing source as no channels: box channels only, never all', async () => {
        api.put(makeBox({id: 'a', channel_id: cid('ops')}));
        hint = null;
        newStore();
        store.watchList();
        await settle();
        expect(store.streamChannels()).toBe(cid('ops'));
        store.close();
        store = new LiveStore({
            base: BASE, fetch: api.fetch as typeof fetch, EventSource: FakeEventSource,
            channels: () => {
                throw new Error('no state');
            },
        });
        store.watchList();
        await settle();
        expect(store.streamChannels()).toBe(cid('ops'));
    });
});

describe('channelsFromState', () => {
    it('reads the current channel and the memberships, most recently viewed first', () => {
        const state = {entities: {channels: {
            currentChannelId: cid('town'),
            myMembers: {
                [cid('old')]: {channel_id: cid('old'), last_viewed_at: 100},
                [cid('new')]: {channel_id: cid('new'), last_viewed_at: 300},
                [cid('never')]: {channel_id: cid('never')},
                [cid('mid')]: {channel_id: cid('mid'), last_viewed_at: 200},
            },
        }}};
        expect(channelsFromState(state)).toEqual({
            current: cid('town'),
            members: [cid('new'), cid('mid'), cid('old'), cid('never')],
        });
    });

    it('is null for a state without Mattermost channels (the demo page)', () => {
        expect(channelsFromState({entities: {general: {config: {}}}})).toBeNull();
        expect(channelsFromState(undefined)).toBeNull();
        expect(channelsFromState({entities: {channels: {}}})).toEqual({current: null, members: []});
    });
});

describe('reopening on a new channel set', () => {
    async function streaming() {
        newStore();
        store.watchList();
        FakeEventSource.last().open();
        await vi.advanceTimersByTimeAsync(RESUBSCRIBE_MS * 2); // past the check after the first list
        expect(store.transport).toBe('stream');
        expect(FakeEventSource.all).toHaveLength(1);
        return FakeEventSource.last();
    }

    it('reopens 500 ms after a channel switch, once for a burst, without polling', async () => {
        const first = await streaming();
        const lists = listCalls().length;
        hint = {current: cid('rand'), members: [cid('town'), cid('dev')]};
        store.channelsChanged();
        await vi.advanceTimersByTimeAsync(200);
        hint = {current: cid('rand'), members: [cid('town'), cid('dev'), cid('rand')]};
        store.channelsChanged();
        store.channelsChanged();
        await vi.advanceTimersByTimeAsync(RESUBSCRIBE_MS - 201);
        expect(FakeEventSource.all).toHaveLength(1);
        await vi.advanceTimersByTimeAsync(1);
        expect(FakeEventSource.all).toHaveLength(2);
        expect(first.closed).toBe(true);
        expect(channelsOf(FakeEventSource.last())).toBe([cid('dev'), cid('rand'), cid('town')].join(','));
        expect(store.transport).toBe('stream'); // not 'connecting', not polling
        await vi.advanceTimersByTimeAsync(5000);
        expect(listCalls()).toHaveLength(lists); // no polling in the gap
        FakeEventSource.last().open();
        await settle();
        expect(listCalls()).toHaveLength(lists + 1); // the open's catch-up
        expect(store.transport).toBe('stream');
    });

    it('ignores notices of the old stream once reopened', async () => {
        const first = await streaming();
        hint = {current: cid('rand'), members: []};
        store.channelsChanged();
        await vi.advanceTimersByTimeAsync(RESUBSCRIBE_MS);
        const b = api.put(makeBox({id: 'x', channel_id: cid('rand')}));
        const before = api.requests.length;
        first.notice('x', b.revision);
        await settle();
        expect(api.requests.length).toBe(before);
    });

    it('does not reopen when the set is the same (a membership order change)', async () => {
        await streaming();
        hint = {current: cid('town'), members: [cid('dev'), cid('town')]};
        store.channelsChanged();
        await vi.advanceTimersByTimeAsync(RESUBSCRIBE_MS * 4);
        expect(FakeEventSource.all).toHaveLength(1);
    });

    it('reopens when a box turns up in a channel outside the set', async () => {
        await streaming();
        const b = api.put(makeBox({id: 'ext', channel_id: cid('ext')}));
        FakeEventSource.last().notice('ext', b.revision); // e.g. delivered through another channel
        await settle();
        expect(store.getBox('ext')).toBeDefined();
        await vi.advanceTimersByTimeAsync(RESUBSCRIBE_MS);
        expect(FakeEventSource.all).toHaveLength(2);
        expect(channelsOf(FakeEventSource.last())).toContain(cid('ext'));
    });

    it('leaves a pending backoff alone: the reconnect computes the set itself', async () => {
        await streaming();
        FakeEventSource.last().fail();
        expect(store.transport).toBe('reconnecting');
        hint = {current: cid('rand'), members: []};
        store.channelsChanged();
        await vi.advanceTimersByTimeAsync(RESUBSCRIBE_MS);
        expect(FakeEventSource.all).toHaveLength(1);
        await vi.advanceTimersByTimeAsync(1000 - RESUBSCRIBE_MS);
        expect(FakeEventSource.all).toHaveLength(2);
        expect(channelsOf(FakeEventSource.last())).toBe(cid('rand'));
    });

    it('polls while the set is empty and opens the stream once a channel is known', async () => {
        hint = {current: null, members: []};
        newStore();
        store.watchList();
        await settle();
        expect(FakeEventSource.all).toHaveLength(0);
        expect(store.transport).toBe('poll');
        const n = listCalls().length;
        await vi.advanceTimersByTimeAsync(2000);
        expect(listCalls().length).toBe(n + 1);
        hint = {current: cid('town'), members: []};
        store.channelsChanged();
        await vi.advanceTimersByTimeAsync(RESUBSCRIBE_MS);
        expect(FakeEventSource.all).toHaveLength(1);
        expect(channelsOf(FakeEventSource.last())).toBe(cid('town'));
        FakeEventSource.last().open();
        await settle();
        expect(store.transport).toBe('stream');
        const m = listCalls().length;
        await vi.advanceTimersByTimeAsync(10000);
        expect(listCalls().length).toBe(m); // polling stopped
    });
});

describe('a failure before open (403)', () => {
    it('retries once with the set recomputed after a fresh list, then polls', async () => {
        newStore();
        store.watchList();
        await settle();
        expect(channelsOf(FakeEventSource.last())).toBe([cid('dev'), cid('town')].join(','));
        hint = {current: cid('town'), members: [cid('town')]}; // removed from dev
        const lists = listCalls().length;
        FakeEventSource.last().fail();
        expect(store.transport).toBe('connecting');
        await vi.advanceTimersByTimeAsync(RESUBSCRIBE_MS);
        expect(listCalls().length).toBe(lists + 1);
        expect(FakeEventSource.all).toHaveLength(2);
        expect(channelsOf(FakeEventSource.last())).toBe(cid('town'));
        FakeEventSource.last().fail();
        expect(store.transport).toBe('poll');
        await vi.advanceTimersByTimeAsync(60000);
        expect(FakeEventSource.all).toHaveLength(2); // polling for good, as without nchan
    });

    it('streams when the retry opens', async () => {
        newStore();
        store.watchList();
        await settle();
        hint = {current: cid('town'), members: []};
        FakeEventSource.last().fail();
        await vi.advanceTimersByTimeAsync(RESUBSCRIBE_MS);
        FakeEventSource.last().open();
        await settle();
        expect(store.transport).toBe('stream');
    });

    it('does not retry channels=all: straight to polling', async () => {
        newStore({source: false});
        store.watchList();
        await settle();
        FakeEventSource.last().fail();
        expect(store.transport).toBe('poll');
        await vi.advanceTimersByTimeAsync(60000);
        expect(FakeEventSource.all).toHaveLength(1);
    });

    it('after a reopen that fails: polls, retries once, then backs off as for any lost stream', async () => {
        newStore();
        store.watchList();
        FakeEventSource.last().open();
        await settle();
        hint = {current: cid('rand'), members: []};
        store.channelsChanged();
        await vi.advanceTimersByTimeAsync(RESUBSCRIBE_MS);
        expect(FakeEventSource.all).toHaveLength(2);
        FakeEventSource.last().fail(); // 403 on the new set
        expect(store.transport).toBe('reconnecting'); // polling meanwhile
        await vi.advanceTimersByTimeAsync(RESUBSCRIBE_MS);
        expect(FakeEventSource.all).toHaveLength(3); // the retry
        FakeEventSource.last().fail();
        await vi.advanceTimersByTimeAsync(999);
        expect(FakeEventSource.all).toHaveLength(3);
        await vi.advanceTimersByTimeAsync(1);
        expect(FakeEventSource.all).toHaveLength(4); // backoff 1 s
        FakeEventSource.last().fail();
        await vi.advanceTimersByTimeAsync(2000);
        expect(FakeEventSource.all).toHaveLength(5); // 2 s: no second quick retry
    });
});

describe('the 30 s list refresh', () => {
    it('asks for the list with If-None-Match every 30 s while streaming a channel list', async () => {
        api.put(makeBox({id: 'a', channel_id: cid('town')}));
        newStore();
        store.watchList();
        FakeEventSource.last().open();
        await settle();
        const roots = store.getRoots();
        const n = listCalls().length;
        await vi.advanceTimersByTimeAsync(REFRESH_MS - 1);
        expect(listCalls()).toHaveLength(n);
        await vi.advanceTimersByTimeAsync(1);
        expect(listCalls()).toHaveLength(n + 1);
        expect(listCalls()[n].headers['If-None-Match']).toBe(`"${api.revision}"`);
        expect(store.getRoots()).toBe(roots); // 304: nothing changed
        await vi.advanceTimersByTimeAsync(REFRESH_MS);
        expect(listCalls()).toHaveLength(n + 2);
    });

    it('shows a box in a channel outside the set within 30 s, and subscribes to it', async () => {
        newStore();
        store.watchList();
        FakeEventSource.last().open();
        await settle();
        api.put(makeBox({id: 'far', channel_id: cid('far')})); // no notice reaches this page
        await vi.advanceTimersByTimeAsync(REFRESH_MS);
        expect(store.getBox('far')).toBeDefined();
        await vi.advanceTimersByTimeAsync(RESUBSCRIBE_MS);
        expect(channelsOf(FakeEventSource.last())).toContain(cid('far'));
    });

    it('does not refresh with channels=all, nor while polling', async () => {
        newStore({source: false});
        store.watchList();
        FakeEventSource.last().open();
        await settle();
        const n = listCalls().length;
        await vi.advanceTimersByTimeAsync(REFRESH_MS * 3);
        expect(listCalls()).toHaveLength(n);
        store.close();

        newStore();
        store.watchList();
        FakeEventSource.last().open();
        await settle();
        FakeEventSource.last().fail(); // reconnecting: the 2 s polls, no extra refresh
        await settle();
        const m = listCalls().length;
        await vi.advanceTimersByTimeAsync(REFRESH_MS);
        expect(listCalls().length - m).toBe(REFRESH_MS / 2000);
    });
});
