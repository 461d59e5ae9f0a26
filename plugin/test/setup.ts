// jsdom has no PointerEvent; the widget's drag code needs one with clientX/clientY.
import {cleanup} from '@testing-library/react';
import {afterEach} from 'vitest';

if (typeof window.PointerEvent === 'undefined') {
    class PointerEventShim extends MouseEvent {
        pointerId: number;
        constructor(type: string, init: PointerEventInit = {}) {
            super(type, init);
            this.pointerId = init.pointerId ?? 1;
        }
    }
    (window as any).PointerEvent = PointerEventShim;
}

afterEach(() => {
    cleanup();
    window.localStorage.clear();
});
