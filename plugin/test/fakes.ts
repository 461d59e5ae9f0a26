// Test doubles of the status API and of EventSource, driven by the tests' fake clock.
import type {EventSourceLike} from '../webapp/src/live';
import type {SessionData} from '../webapp/src/types';

export function makeBox(over: Partial<SessionData> = {}): SessionData {
    return {
        id: 'b1',
        session_key: 'agent:main:mattermost:channel:c1',
        agent_id: 'main',
        channel_id: 'c1',
        root_id: '',
        post_id: 'p1',
        parent_id: null,
        label: '',
        status: 'active',
        lines: [],
        children: [],
        start_time_ms: 1_700_000_000_000,
        end_time_ms: null,
        last_update_ms: 1_700_000_000_000,
        token_count: 0,
        model: '',
        revision: 1,
        ...over,
    };
}

export class FakeEventSource implements EventSourceLike {
    static all: FakeEventSource[] = [];
    onopen: ((ev: any) => void) | null = null;
    onmessage: ((ev: {data: string}) => void) | null = null;
    onerror: ((ev: any) => void) | null = null;
    closed = false;
    constructor(public url: string, public init?: {withCredentials?: boolean}) {
        FakeEventSource.all.push(this);
    }
    static last(): FakeEventSource {
        return FakeEventSource.all[FakeEventSource.all.length - 1];
    }
    static reset(): void {
        FakeEventSource.all = [];
    }
    open(): void {
        this.onopen?.({});
    }
    notice(id: string, revision: number): void {
        this.onmessage?.({data: JSON.stringify({revision, id, channel_id: 'c1'})});
    }
    fail(): void {
        this.onerror?.({});
    }
    close(): void {
        this.closed = true;
    }
}

// A store of boxes answering the routes the webapp reads, with revisions and ETags as api.md
// describes. `requests` records what was asked, for assertions.
export class FakeApi {
    boxes = new Map<string, SessionData>(); // top-level boxes, children nested
    revision = 0;
    requests: Array<{url: string; headers: Record<string, string>; credentials?: string}> = [];
    down = false;

    put(box: SessionData): SessionData {
        this.revision++;
        const b = {...box, revision: this.revision};
        if (b.parent_id) {
            const parent = this.find(b.parent_id)!;
            const i = parent.children.findIndex((c) => c.id === b.id);
            if (i < 0) {
                parent.children.push(b);
            } else {
                parent.children[i] = b;
            }
        } else {
            this.boxes.set(b.id, b);
        }
        return b;
    }

    find(id: string, list: SessionData[] = [...this.boxes.values()]): SessionData | undefined {
        for (const b of list) {
            if (b.id === id) {
                return b;
            }
            const hit = this.find(id, b.children);
            if (hit) {
                return hit;
            }
        }
        return undefined;
    }

    count(path: string): number {
        return this.requests.filter((r) => r.url.endsWith(path)).length;
    }

    fetch = async (input: any, init: any = {}): Promise<Response> => {
        const url = String(input);
        this.requests.push({url, headers: {...(init.headers || {})}, credentials: init.credentials});
        if (this.down) {
            throw new TypeError('network down');
        }
        const path = new URL(url).pathname.replace(/^.*\/api\/v1/, '');
        const clone = (x: unknown) => JSON.parse(JSON.stringify(x));
        if (path === '/sessions') {
            const etag = `"${this.revision}"`;
            if (init.headers?.['If-None-Match'] === etag) {
                return new Response(null, {status: 304, headers: {ETag: etag}});
            }
            return new Response(JSON.stringify(clone([...this.boxes.values()])), {
                status: 200,
                headers: {'Content-Type': 'application/json', ETag: etag},
            });
        }
        const m = /^\/sessions\/(.+)$/.exec(path);
        if (m) {
            const box = this.find(decodeURIComponent(m[1]));
            return box ?
                new Response(JSON.stringify(clone(box)), {status: 200, headers: {'Content-Type': 'application/json'}}) :
                new Response('{"error":"not found"}', {status: 404});
        }
        return new Response('{"error":"no such route"}', {status: 404});
    };
}
