// React bindings of the live store. Only hooks that exist since React 16.8, because a plugin
// renders with whatever React the Mattermost page carries (17 on 7.x servers).
import React from 'react';

import {getLive} from './live';
import type {SessionData} from './types';

// Re-renders on every store change; attach (re-run when deps change) says what this view needs.
function useStoreVersion(attach: () => () => void, deps: unknown[]): void {
    const [, bump] = React.useReducer((n: number) => n + 1, 0);
    React.useEffect(() => {
        const store = getLive();
        const off = store.onChange(bump);
        const detach = attach();
        bump(); // catch a change between render and subscribe
        return () => {
            off();
            detach();
        };
    }, deps);
}

export interface BoxState {
    box: SessionData | undefined;
    missing: boolean;
}

export function useBox(id: string): BoxState {
    useStoreVersion(() => getLive().watchBox(id), [id]);
    const store = getLive();
    return {box: store.getBox(id), missing: store.isMissing(id)};
}

export function useBoxes(): {boxes: SessionData[]; loaded: boolean} {
    useStoreVersion(() => getLive().watchList(), []);
    const store = getLive();
    return {boxes: store.getRoots(), loaded: store.isListLoaded()};
}

// One clock for the whole page, so every elapsed time on screen turns over together; it
// runs only while some view shows a running box.
const ticking = new Set<() => void>();
let clock: ReturnType<typeof setInterval> | null = null;

function onTick(fn: () => void): () => void {
    ticking.add(fn);
    if (!clock) {
        clock = setInterval(() => ticking.forEach((f) => f()), 1000);
    }
    return () => {
        ticking.delete(fn);
        if (ticking.size === 0 && clock) {
            clearInterval(clock);
            clock = null;
        }
    };
}

export function useNow(running: boolean): number {
    const [now, setNow] = React.useState(() => Date.now());
    React.useEffect(() => {
        if (!running) {
            return undefined;
        }
        setNow(Date.now());
        return onTick(() => setNow(Date.now()));
    }, [running]);
    return now;
}
