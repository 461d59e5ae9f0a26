// The right-hand panel: every box the user may see, running ones first (newest on top), then
// recently finished ones. It reads the shared store, which loads the full list as soon as the
// panel mounts, so it is never blank after a page reload.
import React from 'react';

import {useBoxes} from '../hooks';
import {openThread, threadHref} from '../nav';
import type {SessionData} from '../types';

import {StatusBox} from './StatusBox';

export const MAX_FINISHED = 20;

const finishedAt = (b: SessionData) => b.end_time_ms ?? b.last_update_ms;

export function RhsPanel() {
    const {boxes, loaded} = useBoxes();
    const active = boxes.filter((b) => b.status === 'active').
        sort((a, b) => b.start_time_ms - a.start_time_ms);
    const finished = boxes.filter((b) => b.status !== 'active').
        sort((a, b) => finishedAt(b) - finishedAt(a)).
        slice(0, MAX_FINISHED);

    return (
        <div className='ls-rhs' data-ls-view='rhs'>
            <div className='ls-section'>{`Active (${active.length})`}</div>
            {active.length === 0 && (
                <div className='ls-muted'>{loaded ? 'No agent is working right now.' : 'Loading\u2026'}</div>
            )}
            {active.map((b) => <Entry key={b.id} box={b}/>)}
            {finished.length > 0 && <div className='ls-section'>{'Recently finished'}</div>}
            {finished.map((b) => <Entry key={b.id} box={b}/>)}
        </div>
    );
}

function Entry({box}: {box: SessionData}) {
    const href = threadHref(box);
    return (
        <div className='ls-entry'>
            <StatusBox box={box}/>
            {href && (
                <a
                    className='ls-link'
                    href={href}
                    onClick={(e) => {
                        e.preventDefault();
                        openThread(box);
                    }}
                >
                    {'Open thread'}
                </a>
            )}
        </div>
    );
}
