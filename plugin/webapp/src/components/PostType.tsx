// Renderer of posts of type custom_livestatus: the box named by props.session_id, live. When
// the box is gone (cleaned up after it ended) the post's own message, the final status text
// the watcher wrote, is shown instead.
import React from 'react';

import {useBox} from '../hooks';

import {StatusBox} from './StatusBox';

interface PostLike {
    message?: string;
    props?: Record<string, unknown> | null;
}

export function LiveStatusPost({post}: {post: PostLike}) {
    const id = post?.props?.session_id;
    if (typeof id !== 'string' || id === '') {
        return <div className='ls-box ls-line'>{post?.message || 'Live status unavailable.'}</div>;
    }
    return <PostBox id={id} message={post.message || ''}/>;
}

function PostBox({id, message}: {id: string; message: string}) {
    const {box, missing} = useBox(id);
    if (box) {
        return <div data-ls-view='post'><StatusBox box={box}/></div>;
    }
    if (missing) {
        return (
            <div className='ls-box ls-gone' data-box-id={id}>
                <div className='ls-line'>{message || 'This status box is no longer available.'}</div>
            </div>
        );
    }
    return <div className='ls-box ls-loading ls-muted' data-box-id={id}>{'Loading live status\u2026'}</div>;
}
