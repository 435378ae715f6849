// Phone layout of the lab page: instructions and terminal are two views
// of one screen, switched by the bar above them (#lab-switch, shown only on
// narrow screens by style.css), so the terminal is never far below the text.

/**
 * @param {HTMLElement} lab the #lab element
 * @param {HTMLElement|null} bar the #lab-switch element
 * @returns {{show: (view: 'instructions'|'terminal') => void}}
 */
export function initLabSwitch(lab, bar) {
  const buttons = bar ? [...bar.querySelectorAll('button[data-view]')] : [];
  const show = (view) => {
    lab.dataset.view = view;
    for (const b of buttons) b.setAttribute('aria-pressed', b.dataset.view === view ? 'true' : 'false');
    // The terminal refits to the space it now has (fit addon, ResizeObserver).
    window.dispatchEvent(new Event('resize'));
  };
  for (const b of buttons) b.addEventListener('click', () => show(b.dataset.view));
  if (!lab.dataset.view) lab.dataset.view = 'instructions';
  return { show };
}
