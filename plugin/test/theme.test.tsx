// Theme rule: colours come from Mattermost's CSS variables; a literal colour may appear only
// as a var() fallback. Checked on the stylesheet and on rendered markup.
import {render} from '@testing-library/react';
import React from 'react';
import {describe, expect, it} from 'vitest';

import {StatusBox} from '../webapp/src/components/StatusBox';
import {CSS, ensureStyles} from '../webapp/src/styles';

import {makeBox} from './fakes';

const LITERAL_COLOUR = /#[0-9a-f]{3,8}\b|\b(?:rgba?|hsla?)\(\s*[\d.]|(?<![\w-])(?:white|black|red|green|blue|gr[ae]y|yellow|orange|purple)(?![\w-])/i;

// Drops every var(--name, fallback) so only what is not a fallback remains.
function withoutFallbacks(css: string): string {
    let prev;
    let out = css;
    do {
        prev = out;
        out = out.replace(/var\(--[\w-]+(?:,[^()]*)?\)/g, 'VAR');
    } while (out !== prev);
    return out;
}

describe('theme', () => {
    it('uses no literal colour outside var() fallbacks', () => {
        const rest = withoutFallbacks(CSS);
        expect(rest).not.toMatch(LITERAL_COLOUR);
        expect(CSS).toMatch(LITERAL_COLOUR); // the check itself sees the fallbacks
    });

    it.each([
        '--center-channel-color',
        '--center-channel-bg',
        '--center-channel-color-rgb',
        '--online-indicator',
        '--error-text',
        '--away-indicator',
        '--button-bg',
        '--link-color',
    ])('takes %s from the Mattermost theme', (name) => {
        expect(CSS).toContain(`var(${name}`);
    });

    it('gives [OK], [ERR] and the status tags their theme colours', () => {
        expect(CSS).toMatch(/\.ls-mark-ok \{ color: var\(--online-indicator/);
        expect(CSS).toMatch(/\.ls-mark-err \{ color: var\(--error-text/);
        expect(CSS).toMatch(/\.ls-tag-error \{ color: var\(--error-text/);
        expect(CSS).toMatch(/\.ls-line \{[^}]*overflow-wrap: anywhere/); // long text wraps
    });

    it('renders no inline colour', () => {
        const box = makeBox({
            lines: ['exec: a [OK]', 'exec: b [ERR]'],
            children: [makeBox({id: 'k', parent_id: 'b1', lines: ['x']})],
        });
        const {container} = render(<StatusBox box={box}/>);
        expect(container.innerHTML).not.toMatch(/style="[^"]*colou?r/i);
    });

    it('injects the stylesheet once', () => {
        ensureStyles();
        ensureStyles();
        const styles = document.querySelectorAll('style#livestatus-style');
        expect(styles).toHaveLength(1);
        expect(styles[0].textContent).toBe(CSS);
    });
});
