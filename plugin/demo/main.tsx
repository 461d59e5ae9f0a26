// The demo page: a channel with one custom_livestatus post per top-level box, the right-hand
// panel, and the root components, all taken from what the plugin registered. Query string:
// ?box=<id> shows only that box's post; ?theme=dark uses a dark Mattermost theme.
import './registry';
import '../webapp/src/index';

import React from 'react';
import {createRoot} from 'react-dom/client';

import {friendlyLabel} from '../webapp/src/format';
import {useBoxes} from '../webapp/src/hooks';
import {getLive, treeRevision} from '../webapp/src/live';
import type {SessionData} from '../webapp/src/types';

import {isRhsOpen, onRhsChange, registered} from './registry';

const params = new URLSearchParams(window.location.search);
const fixedBox = params.get('box');
let theme = params.get('theme') === 'dark' ? 'dark' : 'light';
document.documentElement.dataset.theme = theme;

// The e2e test and a curious visitor can see which way updates arrive.
const live = getLive();
const showTransport = () => {
    document.documentElement.dataset.lsTransport = live.transport;
};
live.onChange(showTransport);
showTransport();

// What Mattermost's router would do for a permalink: here, bring the post into view.
window.WebappUtils = {
    browserHistory: {
        push(p: string) {
            const id = p.split('/').pop();
            const el = document.querySelector(`[data-post-id="${id}"]`);
            el?.scrollIntoView({behavior: 'smooth', block: 'center'});
        },
    },
};

function Post({boxId, postId}: {boxId: string; postId: string}) {
    const Renderer = registered.postTypes.custom_livestatus;
    const post = {id: postId, type: 'custom_livestatus', message: '', props: {session_id: boxId}};
    return (
        <div className='demo-post' data-post-id={postId}>
            <div className='demo-author'>{'openclaw'}<span className='demo-bot'>{'BOT'}</span></div>
            {Renderer ? <Renderer post={post}/> : null}
        </div>
    );
}

// The running box is kept in view, as a reader of the channel would follow it: scrolled to
// when it starts and, while it grows, so its end shows (its top, when it is taller than the
// channel). Scrolling the channel by hand stops that until the next box starts.
function useFollowRunning(boxes: SessionData[]) {
    const running = boxes.filter((b) => b.status === 'active').
        sort((a, b) => b.start_time_ms - a.start_time_ms)[0];
    const id = running ? running.post_id || running.id : null;
    const rev = running ? treeRevision(running) : 0;
    const paused = React.useRef(false);
    React.useEffect(() => {
        const center = document.querySelector('.demo-center');
        const stop = () => {
            paused.current = true;
        };
        const events = ['wheel', 'touchmove', 'keydown'];
        events.forEach((e) => center?.addEventListener(e, stop, {passive: true}));
        return () => events.forEach((e) => center?.removeEventListener(e, stop));
    }, []);
    React.useLayoutEffect(() => {
        paused.current = false;
    }, [id]);
    React.useLayoutEffect(() => {
        const center = document.querySelector('.demo-center');
        const el = id ? document.querySelector(`[data-post-id="${id}"]`) : null;
        if (!center || !el || paused.current) {
            return;
        }
        const fits = el.getBoundingClientRect().height <= center.clientHeight;
        el.scrollIntoView({block: fits ? 'end' : 'start'});
        document.documentElement.dataset.lsFollowing = id!;
    }, [id, rev]);
}

function Channel() {
    const {boxes, loaded} = useBoxes();
    useFollowRunning(fixedBox ? [] : boxes);
    if (fixedBox) {
        return <Post boxId={fixedBox} postId={fixedBox}/>;
    }
    // Posts in channel order: the oldest box first, as the watcher created them.
    const posts = [...boxes].sort((a, b) => a.start_time_ms - b.start_time_ms);
    if (posts.length === 0) {
        return <div className='demo-empty'>{loaded ? 'No status boxes yet: start a session and watch.' : 'Loading\u2026'}</div>;
    }
    return <>{posts.map((b) => <Post key={b.id} boxId={b.id} postId={b.post_id || b.id}/>)}</>;
}

// The channel the boxes talk in, by name: the newest box's label when it names one
// ("mattermost:<team id>#ops" reads "~ops").
function ChannelName() {
    const {boxes} = useBoxes();
    const newest = [...boxes].sort((a, b) => b.start_time_ms - a.start_time_ms).
        map((b) => friendlyLabel(b.label || '')).find((l) => l.startsWith('~'));
    return <span className='demo-channel'>{newest || '~town-square'}</span>;
}

function App() {
    const [rhsOpen, setRhsOpen] = React.useState(isRhsOpen());
    React.useEffect(() => onRhsChange(setRhsOpen), []);
    const rhs = registered.rhs[0];
    const Rhs = rhs?.component;
    return (
        <div className='demo-app'>
            <header className='demo-header'>
                <ChannelName/>
                <span className='demo-spacer'/>
                {registered.headerButtons.map((b, i) => (
                    <button key={i} type='button' className='demo-button' title={String(b.tooltip)} onClick={b.action}>
                        {b.icon}
                    </button>
                ))}
                <button
                    type='button'
                    className='demo-button'
                    title='Switch theme'
                    onClick={() => {
                        theme = theme === 'dark' ? 'light' : 'dark';
                        document.documentElement.dataset.theme = theme;
                    }}
                >
                    {'\u25D0'}
                </button>
            </header>
            <div className='demo-main'>
                <main className='demo-center'><Channel/></main>
                {rhsOpen && Rhs && (
                    <aside className='demo-rhs'>
                        <div className='demo-rhs-title'>{rhs.title}</div>
                        <Rhs/>
                    </aside>
                )}
            </div>
            {registered.roots.map((C, i) => <C key={i}/>)}
        </div>
    );
}

createRoot(document.getElementById('root')!).render(<App/>);
