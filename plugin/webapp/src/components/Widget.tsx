// The floating widget (a root component, on every Mattermost page): it shows itself when a
// box becomes active and hides HIDE_DELAY_MS after the last one ends, so the end state can be
// read. It shows the active box that changed last (its own last_update_ms or a sub-agent's):
// agent, elapsed time and last lines. It can be dragged (position kept in localStorage) and
// collapsed to a pulsing dot with the count of active boxes; a click opens the box's thread.
import React from 'react';

import {STATUS_TAG, boxTitle, elapsedOf} from '../format';
import {useBoxes, useNow} from '../hooks';
import {treeLastUpdate} from '../live';
import {openThread} from '../nav';
import type {SessionData} from '../types';

import {StatusLine} from './StatusBox';

export const HIDE_DELAY_MS = 5000;
export const WIDGET_LINES = 5;
export const POS_KEY = 'livestatus.widget.position';
export const COLLAPSED_KEY = 'livestatus.widget.collapsed';
const DRAG_THRESHOLD_PX = 4;
const EDGE_PX = 20;
const MIN_WIDTH_PX = 200;

// Where the widget sits until it is dragged: the bottom right corner, or, while a right-hand
// panel is open (Mattermost's #sidebar-right, or this plugin's panel), the bottom right of the
// room left of it, narrowed to fit there, so the panel and the widget sit side by side.
function defaultPlace(): React.CSSProperties {
    const rhs = document.querySelector('#sidebar-right') ?? document.querySelector('[data-ls-view="rhs"]');
    const r = rhs?.getBoundingClientRect();
    if (!r || r.width <= 0 || r.left >= window.innerWidth) {
        return {right: EDGE_PX, bottom: EDGE_PX};
    }
    const room = r.left - 2 * EDGE_PX;
    if (room < MIN_WIDTH_PX) {
        return {right: EDGE_PX, bottom: EDGE_PX}; // no room beside it: over it, as before
    }
    return {right: window.innerWidth - r.left + EDGE_PX, bottom: EDGE_PX, maxWidth: room};
}

// Renders again when the window is resized (the default place depends on its size).
function useResize(): void {
    const [, bump] = React.useReducer((n: number) => n + 1, 0);
    React.useEffect(() => {
        window.addEventListener('resize', bump);
        return () => window.removeEventListener('resize', bump);
    }, []);
}

interface Pos {
    x: number;
    y: number;
}

function load<T>(key: string, fallback: T): T {
    try {
        const raw = window.localStorage.getItem(key);
        return raw ? (JSON.parse(raw) as T) : fallback;
    } catch {
        return fallback; // storage disabled or a bad value: use the default
    }
}

function save(key: string, value: unknown): void {
    try {
        window.localStorage.setItem(key, JSON.stringify(value));
    } catch {
        // private mode or full storage: the widget still works, it just forgets
    }
}

// Keeps the widget reachable when the window got smaller since the position was stored.
function clamp(p: Pos, w: number, h: number): Pos {
    return {
        x: Math.max(0, Math.min(p.x, window.innerWidth - Math.max(w, 40))),
        y: Math.max(0, Math.min(p.y, window.innerHeight - Math.max(h, 24))),
    };
}

// Shown while any box runs, and for HIDE_DELAY_MS after the last one ended.
function useLinger(active: boolean): boolean {
    const [lingering, setLingering] = React.useState(false);
    const wasActive = React.useRef(false);
    React.useEffect(() => {
        if (active) {
            wasActive.current = true;
            setLingering(false);
            return undefined;
        }
        if (!wasActive.current) {
            return undefined;
        }
        wasActive.current = false;
        setLingering(true);
        const t = setTimeout(() => setLingering(false), HIDE_DELAY_MS);
        return () => clearTimeout(t);
    }, [active]);
    return active || lingering;
}

export function Widget() {
    const {boxes} = useBoxes();
    // The most active box first: the one whose tree changed last; a tie goes to the newer start.
    const active = boxes.filter((b) => b.status === 'active').
        sort((a, b) => treeLastUpdate(b) - treeLastUpdate(a) || b.start_time_ms - a.start_time_ms);
    const visible = useLinger(active.length > 0);
    const now = useNow(active.length > 0);

    // During the linger the last box shown stays, in its final state.
    const lastId = React.useRef<string | null>(null);
    if (active.length > 0) {
        lastId.current = active[0].id;
    }
    const shown: SessionData | undefined = active[0] ?? boxes.find((b) => b.id === lastId.current);

    const [collapsed, setCollapsed] = React.useState<boolean>(() => load(COLLAPSED_KEY, false));
    const [pos, setPos] = React.useState<Pos | null>(() => load<Pos | null>(POS_KEY, null));
    const [dragging, setDragging] = React.useState(false);
    const ref = React.useRef<HTMLDivElement>(null);
    const justDragged = React.useRef(false);
    useResize();

    if (!visible || !shown) {
        return null;
    }

    // Moves are followed on the window, not the widget: a quick pointer leaves the widget
    // before it has moved, and capturing the pointer instead would retarget the clicks.
    const onPointerDown = (e: React.PointerEvent) => {
        if (e.button !== 0 || !ref.current) {
            return;
        }
        const r = ref.current.getBoundingClientRect();
        const d = {dx: e.clientX - r.left, dy: e.clientY - r.top, sx: e.clientX, sy: e.clientY, moved: false};
        justDragged.current = false;
        const move = (ev: PointerEvent) => {
            if (!ref.current || (!d.moved && Math.hypot(ev.clientX - d.sx, ev.clientY - d.sy) < DRAG_THRESHOLD_PX)) {
                return;
            }
            if (!d.moved) {
                d.moved = true;
                setDragging(true);
            }
            const box = ref.current.getBoundingClientRect();
            setPos(clamp({x: ev.clientX - d.dx, y: ev.clientY - d.dy}, box.width, box.height));
        };
        const up = () => {
            window.removeEventListener('pointermove', move);
            window.removeEventListener('pointerup', up);
            window.removeEventListener('pointercancel', up);
            if (d.moved) {
                justDragged.current = true; // the click that follows ends a drag, not a request
                setDragging(false);
                if (ref.current) {
                    const box = ref.current.getBoundingClientRect();
                    save(POS_KEY, {x: box.left, y: box.top});
                }
            }
        };
        window.addEventListener('pointermove', move);
        window.addEventListener('pointerup', up);
        window.addEventListener('pointercancel', up);
    };
    // A click that ended a drag is not a request.
    const clicked = (fn: () => void) => (e: React.MouseEvent) => {
        e.stopPropagation();
        if (justDragged.current) {
            justDragged.current = false;
            return;
        }
        fn();
    };
    const toggle = () => {
        save(COLLAPSED_KEY, !collapsed);
        setCollapsed(!collapsed);
    };

    const w = ref.current?.offsetWidth ?? 0;
    const h = ref.current?.offsetHeight ?? 0;
    const place: React.CSSProperties = pos ? {...toLeftTop(clamp(pos, w, h))} : defaultPlace();
    const common = {
        ref,
        style: place,
        'data-ls-view': 'widget',
        'data-box-id': shown.id,
        'data-collapsed': collapsed ? 'true' : 'false',
        onPointerDown,
    };
    const cls = `ls-widget${collapsed ? ' ls-collapsed' : ''}${dragging ? ' ls-dragging' : ''}`;
    const dotCls = `ls-dot${active.length > 0 ? ' ls-pulse' : ''}`;

    if (collapsed) {
        return (
            <div
                {...common}
                className={cls}
                role='button'
                title='Show live status'
                onClick={clicked(toggle)}
            >
                <span className={dotCls}/>
                <span className='ls-count'>{active.length}</span>
            </div>
        );
    }
    return (
        <div {...common} className={cls}>
            <div className='ls-widget-head'>
                <span className={dotCls}/>
                <span className={`ls-tag ls-tag-${shown.status}`}>{`[${STATUS_TAG[shown.status] ?? shown.status}]`}</span>
                <span className='ls-agent'>{boxTitle(shown)}</span>
                <span className='ls-elapsed'>{elapsedOf(shown, now)}</span>
                {active.length > 1 && <span className='ls-count' title='active boxes'>{active.length}</span>}
                <button
                    type='button'
                    className='ls-toggle'
                    aria-label='Collapse'
                    title='Collapse'
                    onClick={clicked(toggle)}
                >
                    {'\u2013'}
                </button>
            </div>
            <div className='ls-box' title='Open thread' onClick={clicked(() => openThread(shown))}>
                {(shown.lines || []).slice(-WIDGET_LINES).map((l, i) => <StatusLine key={i} line={l}/>)}
            </div>
        </div>
    );
}

function toLeftTop(p: Pos): React.CSSProperties {
    return {left: p.x, top: p.y};
}
