// One status box as a terminal-style block: header (status tag, agent and channel, elapsed,
// tokens; the model on hover), the
// status lines, and sub-agents nested below, each collapsible. Used by the post renderer, the
// right-hand panel and the widget.
import React from 'react';

import {STATUS_TAG, elapsedOf, formatTokens, friendlyLabel, parseLine} from '../format';
import {useNow} from '../hooks';
import {useMaxLines} from '../settings';
import type {SessionData} from '../types';

function anyActive(box: SessionData): boolean {
    return box.status === 'active' || (box.children || []).some(anyActive);
}

export function StatusLine({line}: {line: string}) {
    const p = parseLine(line);
    return (
        <div className={`ls-line ls-line-${p.kind}`} data-kind={p.kind}>
            {p.text}
            {p.mark && ' '}
            {p.mark && <span className={`ls-mark ls-mark-${p.kind}`}>{p.mark}</span>}
        </div>
    );
}

// Follows new lines while the reader is at the bottom; once they scroll up it leaves them be,
// and resumes when they scroll back down.
function useAutoScroll(dep: unknown) {
    const ref = React.useRef<HTMLDivElement>(null);
    const stick = React.useRef(true);
    const onScroll = React.useCallback(() => {
        const el = ref.current;
        if (el) {
            stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 16;
        }
    }, []);
    React.useLayoutEffect(() => {
        const el = ref.current;
        if (el && stick.current) {
            el.scrollTop = el.scrollHeight;
        }
    }, [dep]);
    return {ref, onScroll};
}

interface Props {
    box: SessionData;
    nested?: boolean;
}

export function StatusBox({box, nested = false}: Props) {
    const now = useNow(anyActive(box));
    const maxLines = useMaxLines();
    const [open, setOpen] = React.useState(true);
    const scroll = useAutoScroll(box);
    // The newest MaxStatusLines (15 unless the System Console says otherwise), as the box keeps.
    const lines = (box.lines || []).slice(-maxLines);
    const kids = box.children || [];
    // A raw route label ("mattermost:<team id>#ops") reads as the channel's name ("~ops").
    const label = friendlyLabel(box.label || '');
    const name = nested ? label || box.agent_id : box.agent_id;

    const body = (
        <>
            {lines.map((l, i) => <StatusLine key={i} line={l}/>)}
            {lines.length === 0 && kids.length === 0 && box.status === 'active' && (
                <div className='ls-line ls-muted'>{'waiting for activity\u2026'}</div>
            )}
            {kids.map((c) => (
                <div className='ls-child' key={c.id}>
                    <StatusBox box={c} nested={true}/>
                </div>
            ))}
        </>
    );

    return (
        <div
            className={`ls-box ls-${box.status}${nested ? ' ls-nested' : ''}`}
            data-box-id={box.id}
            data-status={box.status}
        >
            <div className='ls-head'>
                {nested && (
                    <button
                        type='button'
                        className='ls-toggle'
                        aria-expanded={open}
                        aria-label={open ? 'Collapse sub-agent' : 'Expand sub-agent'}
                        onClick={() => setOpen(!open)}
                    >
                        {open ? '\u25BE' : '\u25B8'}
                    </button>
                )}
                <span className={`ls-tag ls-tag-${box.status}`}>{`[${STATUS_TAG[box.status] ?? box.status}]`}</span>
                <span className='ls-agent' title={box.model ? `model: ${box.model}` : undefined}>{name}</span>
                {!nested && label && label !== name && <span className='ls-label'>{label}</span>}
                <span className='ls-elapsed'>{elapsedOf(box, now)}</span>
                {box.token_count > 0 && <span className='ls-tokens'>{formatTokens(box.token_count)}</span>}
            </div>
            {open && (nested ? (
                <div className='ls-body'>{body}</div>
            ) : (
                <div className='ls-body ls-scroll' ref={scroll.ref} onScroll={scroll.onScroll}>{body}</div>
            ))}
        </div>
    );
}
