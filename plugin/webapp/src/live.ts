// The data layer: one store per page that every view reads, so a page with many posts, the
// right-hand panel and the widget holds one stream connection and one cache between them.
//
// How it stays current (api.md "Live updates"):
// - push: an EventSource on <base>/api/v1/stream?channels=<id>,<id>,... delivers notices
//   {revision, id, channel_id} of the boxes in those Mattermost channels; each notice makes the
//   store GET that one box, so the server's reader rules decide what the user sees.
//   The channel set (at most 64 ids of [a-z0-9]{26}, sorted in the URL) is, by priority: the
//   current channel, the channels of the top-level boxes the store holds (the list answers),
//   then the user's memberships, most recently viewed first. Those last two come from the
//   Mattermost redux state through LiveOptions.channels (plugin.tsx); without that function
//   (the demo page, tests) the store asks for ?channels=all, which the server grants only to
//   secret holders and with READ_AUTH=none.
// - a change of the set (a box in a new channel, a channel switch, a membership) reopens the
//   stream with the new set 500 ms later, without polling in between; the refetch every open
//   does covers the gap. A channel-list stream that fails before it opens (a 403 when a
//   membership was just removed; EventSource cannot tell 403 from other failures) is retried
//   once, after a fresh list, with the set recomputed; after that, the rules below.
// - While streaming a channel list, the list is also refreshed every 30 s with If-None-Match
//   (a 304 costs nothing), so a box in a channel outside the set still shows.
// - A lost stream is reopened with exponential backoff (1 s doubling to 30 s, plus up to 25%
//   jitter so a restarted nginx is not hit by every browser at once), each time with the set
//   computed afresh; while it is down the store polls, and every (re)open refetches the list
//   so nothing stays stale.
// - poll: when the stream fails before it ever opened (no nchan, 403/404 on the stream URL,
//   no EventSource in the browser), the store polls GET <base>/api/v1/sessions every 2 s with
//   If-None-Match, where 304 means nothing changed. A page whose channel set is empty (no
//   current channel, box or membership known yet) polls too, and opens the stream as soon as
//   the set has a channel.
import type {Notice, SessionData} from './types';

export type Transport = 'idle' | 'connecting' | 'stream' | 'reconnecting' | 'poll';

export interface EventSourceLike {
    onopen: ((ev: any) => void) | null;
    onmessage: ((ev: {data: string}) => void) | null;
    onerror: ((ev: any) => void) | null;
    close(): void;
}
export type EventSourceCtor = new (url: string, init?: {withCredentials?: boolean}) => EventSourceLike;

// What the page knows about the user's channels: the channel on screen and the memberships,
// most recently viewed first. Ids that are not Mattermost channel ids are ignored.
export interface ChannelHint {
    current?: string | null;
    members?: string[];
}

export interface LiveOptions {
    base: string; // e.g. https://mm.example.com/plugins/com.openclaw.livestatus
    fetch?: typeof fetch;
    EventSource?: EventSourceCtor | null; // null: never try the stream
    pollMs?: number;
    random?: () => number; // jitter source, replaceable in tests
    // The Mattermost channels of this page (plugin.tsx reads them from the redux store); the
    // stream then subscribes to a channel list. Absent: ?channels=all. Read again on every
    // (re)open and after channelsChanged(); a null answer or a throw counts as no channels.
    channels?: () => ChannelHint | null | undefined;
}

export const POLL_MS = 2000;
export const BACKOFF_START_MS = 1000;
export const BACKOFF_MAX_MS = 30000;
export const MAX_STREAM_CHANNELS = 64;
export const RESUBSCRIBE_MS = 500; // a changed channel set reopens the stream this much later
export const REFRESH_MS = 30000; // the list refresh while streaming a channel list
export const ALL_CHANNELS = 'all';

const CHANNEL_ID = /^[a-z0-9]{26}$/;

export function isChannelId(id: unknown): id is string {
    return typeof id === 'string' && CHANNEL_ID.test(id);
}

// The channels to subscribe to, in priority order until the cap (current channel, box
// channels, memberships), deduplicated and validated, then sorted so one set is one URL.
export function pickChannels(groups: Array<Array<string | null | undefined>>, max = MAX_STREAM_CHANNELS): string[] {
    const picked = new Set<string>();
    for (const group of groups) {
        for (const id of group) {
            if (picked.size >= max) {
                break;
            }
            if (isChannelId(id)) {
                picked.add(id);
            }
        }
    }
    return [...picked].sort();
}

// The current channel and the memberships from a Mattermost redux state
// (entities.channels.currentChannelId and the keys of entities.channels.myMembers, most
// recently viewed first by last_viewed_at); null when the state has no channels at all.
export function channelsFromState(state: any): ChannelHint | null {
    const ch = state?.entities?.channels;
    if (!ch || typeof ch !== 'object') {
        return null;
    }
    const my = ch.myMembers && typeof ch.myMembers === 'object' ? ch.myMembers : {};
    const members = Object.keys(my)
        .map((id, i) => ({id, i, t: Number(my[id]?.last_viewed_at) || 0}))
        .sort((a, b) => b.t - a.t || a.i - b.i)
        .map((m) => m.id);
    const current = typeof ch.currentChannelId === 'string' ? ch.currentChannelId : null;
    return {current, members};
}

// The newest change anywhere in a box's tree: a child's change may not bump its parent.
export function treeRevision(box: SessionData): number {
    let rev = box.revision;
    for (const c of box.children || []) {
        rev = Math.max(rev, treeRevision(c));
    }
    return rev;
}

// The last moment anything in a box's tree changed: a sub-agent's new line does not always
// touch its parent's last_update_ms.
export function treeLastUpdate(box: SessionData): number {
    let t = Number(box.last_update_ms) || 0;
    for (const c of box.children || []) {
        t = Math.max(t, treeLastUpdate(c));
    }
    return t;
}

export function findIn(box: SessionData, id: string): SessionData | undefined {
    if (box.id === id) {
        return box;
    }
    for (const c of box.children || []) {
        const hit = findIn(c, id);
        if (hit) {
            return hit;
        }
    }
    return undefined;
}

// Returns a copy of the tree with `child` put under its parent (replaced or appended), or the
// same object when the parent is not in this tree, so unchanged branches keep their identity.
function placeChild(node: SessionData, child: SessionData): SessionData {
    if (node.id === child.parent_id) {
        const kids = node.children || [];
        const i = kids.findIndex((c) => c.id === child.id);
        const next = i < 0 ? [...kids, child] : kids.map((c, j) => (j === i ? child : c));
        return {...node, children: next};
    }
    let changed = false;
    const kids = (node.children || []).map((c) => {
        const n = placeChild(c, child);
        changed = changed || n !== c;
        return n;
    });
    return changed ? {...node, children: kids} : node;
}

function dropChild(node: SessionData, id: string): SessionData {
    const kids = node.children || [];
    if (!kids.some((c) => findIn(c, id))) {
        return node;
    }
    return {...node, children: kids.filter((c) => c.id !== id).map((c) => dropChild(c, id))};
}

// The revision leads the ETag: "<revision>" for the secret, "<revision>-<hash>" for a
// Mattermost reader (the hash covers the channels that reader may see).
export function parseEtagRevision(etag: string): number | null {
    const m = /^(?:W\/)?"?(\d+)(?:-[0-9A-Za-z]+)?"?$/.exec(etag.trim());
    return m ? Number(m[1]) : null;
}

export class LiveStore {
    transport: Transport = 'idle';

    private readonly base: string;
    private readonly doFetch: typeof fetch;
    private readonly ES: EventSourceCtor | null;
    private readonly pollMs: number;
    private readonly random: () => number;
    private readonly channelSource: (() => ChannelHint | null | undefined) | null;

    private roots = new Map<string, SessionData>();
    private rootList: SessionData[] | null = null;
    private missing = new Set<string>();
    private watched = new Map<string, number>();
    private listLoaded = false;
    private listeners = new Set<() => void>();
    private etag = '';
    private listInflight: Promise<void> | null = null;
    private snapRev = -1; // the store revision the last full list showed
    private inflight = new Map<string, boolean>(); // box id -> fetch again when this one ends

    private started = false;
    private closed = false;
    private es: EventSourceLike | null = null;
    private everOpened = false;
    private attempt = 0;
    private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
    private pollTimer: ReturnType<typeof setTimeout> | null = null;
    private pollGen = 0;
    private polling = false;
    private gaveUp = false; // the stream never opened: polling for good
    private awaitingChannels = false; // a channel list with nothing in it yet: polling meanwhile
    private subKey: string | null = null; // the channels= value of the current stream
    private subSet = new Set<string>();
    private retried = false; // the one retry after a failure before open, until a stream opens
    private resyncTimer: ReturnType<typeof setTimeout> | null = null;
    private refreshTimer: ReturnType<typeof setTimeout> | null = null;

    constructor(opts: LiveOptions) {
        this.base = opts.base.replace(/\/+$/, '');
        this.doFetch = opts.fetch ?? ((...a) => fetch(...a));
        const globalES = typeof EventSource === 'undefined' ? null : (EventSource as unknown as EventSourceCtor);
        this.ES = opts.EventSource === undefined ? globalES : opts.EventSource;
        this.pollMs = opts.pollMs ?? POLL_MS;
        this.random = opts.random ?? Math.random;
        this.channelSource = opts.channels ?? null;
    }

    // ---- what views use ----

    onChange(fn: () => void): () => void {
        this.listeners.add(fn);
        return () => this.listeners.delete(fn);
    }

    watchBox(id: string): () => void {
        this.watched.set(id, (this.watched.get(id) ?? 0) + 1);
        this.start();
        if (!this.getBox(id) && !this.missing.has(id)) {
            this.fetchBox(id);
        }
        return () => {
            const n = (this.watched.get(id) ?? 1) - 1;
            if (n > 0) {
                this.watched.set(id, n);
            } else {
                this.watched.delete(id);
            }
        };
    }

    // Every new list view (the right-hand panel opening, say) asks the server again, so it
    // never starts from a stale cache; with the ETag that usually costs a 304.
    watchList(): () => void {
        this.start();
        void this.loadList();
        return () => undefined; // the list is kept for the views that share it
    }

    // The page's channels may have changed (plugin.tsx calls this on redux changes): the set
    // is computed again RESUBSCRIBE_MS later and the stream reopened when it differs.
    channelsChanged(): void {
        this.scheduleResync();
    }

    // The value of channels= the stream asks for now: 'all' without a channel source, else
    // the sorted ids ('' when there are none).
    streamChannels(): string {
        if (!this.channelSource) {
            return ALL_CHANNELS;
        }
        let hint: ChannelHint | null | undefined = null;
        try {
            hint = this.channelSource();
        } catch {
            hint = null;
        }
        const boxes = [...this.roots.values()]
            .sort((a, b) => treeRevision(b) - treeRevision(a))
            .map((b) => b.channel_id);
        return pickChannels([[hint?.current], boxes, hint?.members || []]).join(',');
    }

    streamURL(channels = this.streamChannels()): string {
        return `${this.base}/api/v1/stream?channels=${channels}`;
    }

    getBox(id: string): SessionData | undefined {
        for (const root of this.roots.values()) {
            const hit = findIn(root, id);
            if (hit) {
                return hit;
            }
        }
        return undefined;
    }

    // True once the server said the box does not exist (or is not for this user).
    isMissing(id: string): boolean {
        return this.missing.has(id);
    }

    getRoots(): SessionData[] {
        if (!this.rootList) {
            this.rootList = [...this.roots.values()];
        }
        return this.rootList;
    }

    isListLoaded(): boolean {
        return this.listLoaded;
    }

    close(): void {
        this.closed = true;
        this.stopPolling();
        for (const t of [this.reconnectTimer, this.resyncTimer, this.refreshTimer]) {
            if (t) {
                clearTimeout(t);
            }
        }
        this.reconnectTimer = null;
        this.resyncTimer = null;
        this.refreshTimer = null;
        this.es?.close();
        this.es = null;
        this.listeners.clear();
    }

    // ---- connection ----

    private start(): void {
        if (this.started || this.closed) {
            return;
        }
        this.started = true;
        this.connect();
    }

    private connect(): void {
        if (this.closed) {
            return;
        }
        if (!this.ES) {
            this.startPolling();
            return;
        }
        const channels = this.streamChannels();
        if (channels === '') {
            this.waitForChannels();
            return;
        }
        this.awaitingChannels = false;
        let es: EventSourceLike;
        try {
            es = new this.ES(this.streamURL(channels), {withCredentials: true});
        } catch {
            this.gaveUp = true;
            this.startPolling();
            return;
        }
        this.es = es;
        this.subKey = channels;
        this.subSet = new Set(channels.split(','));
        if (!this.everOpened) {
            this.setTransport('connecting');
        }
        let opened = false;
        es.onopen = () => {
            if (this.es !== es) {
                return;
            }
            opened = true;
            this.everOpened = true;
            this.attempt = 0;
            this.retried = false;
            this.stopPolling();
            this.setTransport('stream');
            this.startRefresh();
            void this.fetchList(); // whatever changed while we were not listening
        };
        es.onmessage = (ev) => {
            if (this.es === es) {
                this.onNotice(ev.data);
            }
        };
        es.onerror = () => {
            if (this.es !== es) {
                return;
            }
            // Closing stops the browser's own fixed-delay retry; ours backs off.
            es.close();
            this.es = null;
            if (!opened && this.channelSource && !this.retried) {
                // Maybe a 403: a channel of the set the user may no longer read. Once, try
                // again with the set recomputed after a fresh list.
                this.retried = true;
                if (this.everOpened) {
                    this.startPolling();
                }
                this.reconnectTimer = setTimeout(() => {
                    this.reconnectTimer = null;
                    void this.fetchList().then(() => {
                        if (!this.es && !this.reconnectTimer) {
                            this.connect();
                        }
                    });
                }, RESUBSCRIBE_MS);
                return;
            }
            this.startPolling();
            if (this.everOpened) {
                this.scheduleReconnect();
            } else {
                this.gaveUp = true;
            }
        };
    }

    // An empty channel list is nothing to subscribe to: look at the list once and poll until
    // a channel turns up (resync() then connects).
    private waitForChannels(): void {
        this.awaitingChannels = true;
        this.subKey = null;
        if (!this.everOpened && !this.polling) {
            this.setTransport('connecting');
        }
        void this.fetchList().then(() => {
            if (!this.awaitingChannels || this.closed) {
                return;
            }
            if (this.streamChannels() !== '') {
                this.connect();
            } else {
                this.startPolling();
            }
        });
    }

    private scheduleResync(): void {
        if (!this.channelSource || !this.started || this.closed || this.gaveUp || this.resyncTimer) {
            return;
        }
        this.resyncTimer = setTimeout(() => {
            this.resyncTimer = null;
            this.resync();
        }, RESUBSCRIBE_MS);
    }

    // Reopen the stream when the channel set moved. Nothing to do while a reconnect or the
    // retry is pending (it computes the set itself) or when polling for good.
    private resync(): void {
        if (this.closed || this.gaveUp || !this.ES || this.reconnectTimer) {
            return;
        }
        const channels = this.streamChannels();
        if (this.awaitingChannels) {
            if (channels !== '') {
                this.connect();
            }
            return;
        }
        // An empty set keeps the stream it has: its notices only cost GETs that answer 403.
        if (!this.es || channels === '' || channels === this.subKey) {
            return;
        }
        const old = this.es;
        this.es = null;
        old.close();
        this.connect(); // transport stays as it is; the open refetches what the gap missed
    }

    // While a channel-list stream is up, the list every REFRESH_MS (usually a 304), for boxes
    // in channels outside the set.
    private startRefresh(): void {
        if (this.refreshTimer || !this.channelSource || this.closed) {
            return;
        }
        this.refreshTimer = setTimeout(() => {
            this.refreshTimer = null;
            if (this.closed) {
                return;
            }
            if (this.transport === 'stream' && this.es && this.subKey !== ALL_CHANNELS) {
                void this.loadList();
            }
            this.startRefresh();
        }, REFRESH_MS);
    }

    // One list request at a time for the views and the refresh.
    private loadList(): Promise<void> {
        if (!this.listInflight) {
            this.listInflight = this.fetchList().finally(() => {
                this.listInflight = null;
            });
        }
        return this.listInflight;
    }

    private scheduleReconnect(): void {
        const base = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** this.attempt);
        const delay = Math.min(BACKOFF_MAX_MS, base * (1 + 0.25 * this.random()));
        this.attempt++;
        this.reconnectTimer = setTimeout(() => {
            this.reconnectTimer = null;
            this.connect();
        }, delay);
    }

    private startPolling(): void {
        if (this.closed || this.polling) {
            return;
        }
        this.polling = true;
        this.setTransport(this.everOpened ? 'reconnecting' : 'poll');
        const gen = ++this.pollGen;
        const tick = async () => {
            this.pollTimer = null;
            await this.fetchList();
            if (this.polling && gen === this.pollGen) {
                this.pollTimer = setTimeout(tick, this.pollMs);
            }
        };
        void tick();
    }

    private stopPolling(): void {
        this.polling = false;
        this.pollGen++;
        if (this.pollTimer) {
            clearTimeout(this.pollTimer);
            this.pollTimer = null;
        }
    }

    private setTransport(t: Transport): void {
        if (this.transport !== t) {
            this.transport = t;
            this.emit();
        }
    }

    // ---- data ----

    private onNotice(data: string): void {
        let n: Partial<Notice>;
        try {
            n = JSON.parse(data);
        } catch {
            return;
        }
        if (!n || typeof n.id !== 'string' || n.id === '') {
            return;
        }
        // A change the cache already holds, from the box itself or from a list taken after it:
        // nchan replays its buffer to each new subscriber, and those are mostly old news.
        if (typeof n.revision === 'number') {
            const known = this.getBox(n.id);
            if (n.revision <= this.snapRev || (known && known.revision >= n.revision)) {
                return;
            }
        }
        this.fetchBox(n.id);
    }

    private request(path: string, headers: Record<string, string> = {}): Promise<Response> {
        return this.doFetch(`${this.base}${path}`, {
            credentials: 'include',
            cache: 'no-store',
            headers: {'X-Requested-With': 'XMLHttpRequest', ...headers},
        });
    }

    private async fetchList(): Promise<void> {
        let res: Response;
        try {
            res = await this.request('/api/v1/sessions', this.etag ? {'If-None-Match': this.etag} : {});
        } catch {
            return;
        }
        if (this.closed) {
            return;
        }
        if (res.status === 304) {
            this.markListLoaded();
            return;
        }
        if (!res.ok) {
            return;
        }
        let list: unknown;
        try {
            list = await res.json();
        } catch {
            return;
        }
        if (!Array.isArray(list) || this.closed) {
            return;
        }
        const etag = res.headers.get('ETag') ?? '';
        this.etag = etag;
        this.applySnapshot(list as SessionData[], parseEtagRevision(etag));
    }

    private markListLoaded(): void {
        if (!this.listLoaded) {
            this.listLoaded = true;
            this.emit();
        }
    }

    // A full list replaces the cache, except boxes we hold in a newer state than the list
    // (a notice's fetch that finished first); snapRev is the store revision the list shows.
    private applySnapshot(list: SessionData[], snapRev: number | null): void {
        const before = this.roots;
        const next = new Map<string, SessionData>();
        for (const box of list) {
            if (!box || typeof box.id !== 'string') {
                continue;
            }
            const old = before.get(box.id);
            next.set(box.id, old && treeRevision(old) > treeRevision(box) ? old : box);
            this.missing.delete(box.id);
        }
        for (const [id, old] of before) {
            if (next.has(id)) {
                continue;
            }
            if (snapRev !== null && treeRevision(old) > snapRev) {
                next.set(id, old);
            } else {
                this.missing.add(id);
            }
        }
        this.roots = next;
        this.listLoaded = true;
        if (snapRev !== null) {
            this.snapRev = Math.max(this.snapRev, snapRev);
        }
        this.emit();
        this.scheduleResync(); // the box channels may have changed
        for (const id of this.watched.keys()) {
            if (!this.getBox(id) && !this.missing.has(id)) {
                this.fetchBox(id); // e.g. a box this list does not carry
            }
        }
    }

    // One request per box at a time; notices that arrive meanwhile cost one more fetch, not one each.
    private fetchBox(id: string): void {
        if (this.inflight.has(id)) {
            this.inflight.set(id, true);
            return;
        }
        this.inflight.set(id, false);
        void this.loadBox(id).finally(() => {
            const again = this.inflight.get(id);
            this.inflight.delete(id);
            if (again && !this.closed) {
                this.fetchBox(id);
            }
        });
    }

    private async loadBox(id: string): Promise<void> {
        let res: Response;
        try {
            res = await this.request(`/api/v1/sessions/${encodeURIComponent(id)}`);
        } catch {
            return;
        }
        if (this.closed) {
            return;
        }
        if (res.status === 404 || res.status === 403) {
            this.remove(id);
            return;
        }
        if (!res.ok) {
            return;
        }
        let box: SessionData;
        try {
            box = await res.json();
        } catch {
            return;
        }
        if (box && typeof box.id === 'string' && !this.closed) {
            this.upsert(box);
        }
    }

    private upsert(box: SessionData): void {
        this.missing.delete(box.id);
        const old = this.getBox(box.id);
        if (old && treeRevision(old) > treeRevision(box)) {
            return; // an older answer overtaken by a newer one
        }
        if (!box.parent_id) {
            this.roots.set(box.id, box);
            this.emit();
            if (isChannelId(box.channel_id) && !this.subSet.has(box.channel_id)) {
                this.scheduleResync(); // a box in a channel the stream does not cover
            }
            return;
        }
        const rootId = this.rootIdOf(box.parent_id);
        if (!rootId) {
            this.fetchBox(box.parent_id); // the parent's answer carries this child nested
            return;
        }
        this.roots.set(rootId, placeChild(this.roots.get(rootId)!, box));
        this.emit();
    }

    private rootIdOf(id: string): string | undefined {
        for (const [rootId, root] of this.roots) {
            if (findIn(root, id)) {
                return rootId;
            }
        }
        return undefined;
    }

    private remove(id: string): void {
        const news = !this.missing.has(id);
        this.missing.add(id);
        const rootId = this.rootIdOf(id);
        if (rootId === id) {
            this.roots.delete(id);
        } else if (rootId) {
            this.roots.set(rootId, dropChild(this.roots.get(rootId)!, id));
        } else if (!news) {
            return; // nothing held and already known to be gone
        }
        this.emit();
    }

    private emit(): void {
        this.rootList = null;
        for (const fn of [...this.listeners]) {
            fn();
        }
    }
}

// ---- the page-wide instance ----

let current: LiveStore | null = null;

export const PLUGIN_ID = 'com.openclaw.livestatus';

declare global {
    interface Window {
        __LIVESTATUS_BASE__?: string;
        basename?: string;
    }
}

// Where the API is: an explicit override (the demo, tests), else the server's site URL, else
// this page's origin, each followed by the plugin's route prefix that nginx forwards.
export function resolveBase(siteURL?: string): string {
    if (typeof window !== 'undefined' && window.__LIVESTATUS_BASE__) {
        return window.__LIVESTATUS_BASE__.replace(/\/+$/, '');
    }
    let root = (siteURL || '').replace(/\/+$/, '');
    if (!root && typeof window !== 'undefined') {
        root = window.location.origin + (window.basename || '').replace(/\/+$/, '');
    }
    return `${root}/plugins/${PLUGIN_ID}`;
}

export function configureLive(opts: LiveOptions): LiveStore {
    current?.close();
    current = new LiveStore(opts);
    return current;
}

export function getLive(): LiveStore {
    if (!current) {
        current = new LiveStore({base: resolveBase()});
    }
    return current;
}
