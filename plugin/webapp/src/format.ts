// Pure text helpers shared by every view; kept apart so tests can pin the exact strings.
import type {BoxStatus, SessionData} from './types';

export function formatElapsed(ms: number): string {
    const s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) {
        return `${s}s`;
    }
    const pad = (n: number) => String(n).padStart(2, '0');
    if (s < 3600) {
        return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
    }
    return `${Math.floor(s / 3600)}h ${pad(Math.floor(s / 60) % 60)}m`;
}

export function formatTokens(n: number): string {
    if (n < 1000) {
        return `${n} tokens`;
    }
    // Round first, so 999,950 reads "1M" rather than "1000k".
    const k = Math.round(n / 100) / 10;
    if (k < 1000) {
        return `${trimZero(k)}k tokens`;
    }
    return `${trimZero(Math.round(n / 100000) / 10)}M tokens`;
}

function trimZero(x: number): string {
    return x.toFixed(1).replace(/\.0$/, '');
}

export function elapsedOf(box: SessionData, now: number): string {
    const end = box.status === 'active' ? now : (box.end_time_ms ?? box.last_update_ms);
    return formatElapsed(end - box.start_time_ms);
}

export const STATUS_TAG: Record<BoxStatus, string> = {
    active: 'ACTIVE',
    done: 'DONE',
    error: 'ERROR',
    interrupted: 'INTERRUPTED',
};

export type LineKind = 'ok' | 'err' | 'sub' | 'note' | 'text';

export interface ParsedLine {
    kind: LineKind;
    text: string; // the line without its trailing [OK]/[ERR] mark
    mark: '' | '[OK]' | '[ERR]';
}

// Tool results arrive as a trailing " [OK]" / " [ERR]" on the tool's line (api.md).
export function parseLine(line: string): ParsedLine {
    if (line.endsWith(' [OK]')) {
        return {kind: 'ok', text: line.slice(0, -5), mark: '[OK]'};
    }
    if (line.endsWith(' [ERR]')) {
        return {kind: 'err', text: line.slice(0, -6), mark: '[ERR]'};
    }
    if (line.startsWith('Sub-agent: ')) {
        return {kind: 'sub', text: line, mark: ''};
    }
    if (line.startsWith('[session compacted')) {
        return {kind: 'note', text: line, mark: ''};
    }
    return {kind: 'text', text: line, mark: ''};
}

// The link Mattermost resolves to the post wherever it lives; the thread root when known.
export function permalinkPath(box: SessionData): string | null {
    const id = box.root_id || box.post_id;
    return id ? `/_redirect/pl/${id}` : null;
}

// OpenClaw labels a Mattermost run with its route, "mattermost:<team id>#<channel>", or
// "mattermost:channel:<id>" with no name at all: a reader is shown the channel's name
// ("~ops"), or nothing when the route holds only ids. Any other label is a name already.
export function friendlyLabel(label: string): string {
    if (!label.startsWith('mattermost:')) {
        return label;
    }
    const hash = label.lastIndexOf('#');
    const name = hash < 0 ? '' : label.slice(hash + 1).trim();
    return name ? `~${name}` : '';
}

// What a box's header calls it: a sub-agent by its task label, a run by its agent and where
// it talks ("main · ~ops").
export function boxTitle(box: SessionData, nested = false): string {
    const label = friendlyLabel(box.label || '');
    if (nested) {
        return label || box.agent_id;
    }
    return label && label !== box.agent_id ? `${box.agent_id} \u00b7 ${label}` : box.agent_id;
}
