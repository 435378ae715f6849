// Editor pane of the lab page (issue 11): a file tree of the learner's home,
// CodeMirror 6 with syntax highlighting, save with a conflict warning when
// the file changed in the terminal, lint as you type from the graders'
// general rules, and links that open a port of the lab container in the
// web preview.
import { EditorView, basicSetup } from 'codemirror';
import { EditorState, Compartment } from '@codemirror/state';
import { keymap } from '@codemirror/view';
import { linter, lintGutter } from '@codemirror/lint';
import { StreamLanguage } from '@codemirror/language';
import { dockerFile } from '@codemirror/legacy-modes/mode/dockerfile';
import { shell } from '@codemirror/legacy-modes/mode/shell';
import { go } from '@codemirror/lang-go';
import { yaml } from '@codemirror/lang-yaml';
import { getJSON, postJSON, requestJSON, ApiError } from './api.js';
import { languageOf, toDiagnostics, buildTree } from './editorutil.js';
import './editor.css';

function languageExtension(name) {
  switch (name) {
    case 'dockerfile': return StreamLanguage.define(dockerFile);
    case 'shell': return StreamLanguage.define(shell);
    case 'go': return go();
    case 'yaml': return yaml();
    default: return [];
  }
}

function sortedChildren(node) {
  return [...node.children.values()].sort((a, b) => {
    if ((a.type === 'dir') !== (b.type === 'dir')) return a.type === 'dir' ? -1 : 1;
    return a.name.localeCompare(b.name);
  });
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = String(text);
  return e;
}

/** Styles `preview:` links of the instructions as buttons in a new tab. */
export function initPreviewLinks(lab) {
  const labId = lab.dataset.lab;
  if (!labId) return;
  const prefix = `/labs/${encodeURIComponent(labId)}/preview/`;
  const dockerPrefix = `/labs/${encodeURIComponent(labId)}/docker-preview/`;
  for (const a of lab.querySelectorAll('.lab-instructions a[href]')) {
    const href = a.getAttribute('href');
    if (!href.startsWith(prefix) && !href.startsWith(dockerPrefix)) continue;
    a.classList.add('preview-link');
    a.target = '_blank';
    a.rel = 'noopener';
    a.title = 'Opens a port of your lab container in a new tab';
  }
}

/** Wires <section id="editor"> of the lab page. */
export function initEditor(root) {
  const lab = document.getElementById('lab');
  if (lab) initPreviewLinks(lab);
  const $ = (id) => document.getElementById(id);
  const toggle = $('editor-toggle');
  const body = $('editor-body');
  const treeEl = $('editor-tree');
  const cmEl = $('editor-cm');
  const pathEl = $('editor-path');
  const statusEl = $('editor-status');
  const saveBtn = $('editor-save');
  const refreshBtn = $('editor-refresh');
  const conflictEl = $('editor-conflict');
  const previewPort = $('preview-port');
  const previewOpen = $('preview-open');
  const previewTarget = $('preview-target');

  let session = lab ? lab.dataset.session || '' : '';
  let open = null; // {path, sha256, content}
  let view = null;
  let loadedTree = false;
  const lang = new Compartment();
  const lintConf = new Compartment();

  const setStatus = (text, state) => {
    statusEl.textContent = text;
    statusEl.dataset.state = state || '';
  };
  const api = (p) => `/api/v1/sessions/${encodeURIComponent(session)}${p}`;
  const dirty = () => !!(open && view && view.state.doc.toString() !== open.content);
  const refreshDirty = () => {
    saveBtn.disabled = !open || !dirty();
    root.dataset.dirty = dirty() ? 'true' : 'false';
    if (open) pathEl.textContent = `~/${open.path}${dirty() ? ' ●' : ''}`;
  };

  const updatePreviewLink = () => {
    if (!previewPort || !previewOpen) return; // the server has no preview
    const port = Number.parseInt(previewPort.value, 10);
    const ok = session && Number.isInteger(port) && port > 0 && port < 65536;
    previewOpen.setAttribute('aria-disabled', ok ? 'false' : 'true');
    // A container the learner started with docker, or (empty) the lab
    // container itself: internal/web/preview_docker.go.
    const ctr = previewTarget ? previewTarget.value : '';
    if (ok && ctr) previewOpen.href = `/sessions/${encodeURIComponent(session)}/docker-preview/${encodeURIComponent(ctr)}/${port}/`;
    else if (ok) previewOpen.href = `/sessions/${encodeURIComponent(session)}/preview/${port}/`;
    else previewOpen.removeAttribute('href');
    previewOpen.title = ctr ? `Opens port ${port} of your container ${ctr} in a new tab` : `Opens port ${port} of your lab container in a new tab`;
  };
  if (previewPort) previewPort.addEventListener('input', updatePreviewLink);

  // The preview form's list of the learner's running docker containers,
  // asked again whenever the list is about to be used.
  let previewPorts = new Map(); // container name → exposed ports
  let listing = false;
  const loadPreviewTargets = async () => {
    if (!previewTarget || !session || listing) return;
    listing = true;
    try {
      const res = await getJSON(api('/preview/containers'), { timeoutMs: 10000 });
      const list = (res && res.containers) || [];
      const keep = previewTarget.value;
      previewPorts = new Map(list.map((c) => [c.name, c.ports || []]));
      for (const g of previewTarget.querySelectorAll('optgroup')) g.remove();
      const group = document.createElement('optgroup');
      group.label = 'Your docker containers';
      for (const c of list) {
        group.append(new Option(c.ports && c.ports.length ? `${c.name} (${c.ports.join(', ')})` : c.name, c.name));
      }
      // A container that is gone stays selected: its preview says so.
      if (keep && !previewPorts.has(keep)) group.append(new Option(`${keep} (not running)`, keep));
      if (group.children.length) previewTarget.append(group);
      previewTarget.value = keep;
    } catch {
      // No list (no docker in this lab, or the engine is busy): the lab
      // container stays available.
    } finally {
      listing = false;
      updatePreviewLink();
    }
  };
  if (previewTarget) {
    previewTarget.addEventListener('focus', loadPreviewTargets);
    previewTarget.addEventListener('pointerdown', loadPreviewTargets);
    previewTarget.addEventListener('change', () => {
      const ports = previewPorts.get(previewTarget.value) || [];
      const port = Number.parseInt(previewPort.value, 10);
      if (ports.length && !ports.includes(port)) previewPort.value = String(ports[0]);
      updatePreviewLink();
    });
  }

  const lintSource = async (v) => {
    // Only Dockerfiles and YAML (workflows, rule files) have a grader.
    const kind = open ? languageOf(open.path) : '';
    if (kind !== 'dockerfile' && kind !== 'yaml') return [];
    const path = open.path;
    const content = v.state.doc.toString();
    try {
      const res = await postJSON('/api/v1/lint', { path, content }, { timeoutMs: 15000 });
      if (!open || open.path !== path) return [];
      const diags = res && res.kind ? toDiagnostics(v.state.doc, res.findings) : [];
      root.dataset.diagnostics = String(diags.length);
      root.dataset.lintKind = (res && res.kind) || '';
      return diags;
    } catch (e) {
      // A busy or unavailable lint shows nothing this time; Check still
      // grades the file.
      return [];
    }
  };

  const makeView = (doc, path) => {
    const state = EditorState.create({
      doc,
      extensions: [
        basicSetup,
        lang.of(languageExtension(languageOf(path))),
        lintGutter(),
        lintConf.of(linter(lintSource, { delay: 600 })),
        keymap.of([{ key: 'Mod-s', preventDefault: true, run: () => { save(false); return true; } }]),
        EditorView.updateListener.of((u) => { if (u.docChanged) refreshDirty(); }),
        EditorView.contentAttributes.of({ 'aria-label': `Contents of ${path}` }),
      ],
    });
    if (view) view.setState(state);
    else view = new EditorView({ state, parent: cmEl });
    root.editorView = view; // for tests and the console
  };

  const openFile = async (path) => {
    if (dirty() && !window.confirm(`Discard your unsaved changes to ~/${open.path}?`)) return;
    setStatus(`opening ~/${path}…`, 'busy');
    try {
      const f = await getJSON(api(`/file?path=${encodeURIComponent(path)}`));
      open = { path: f.path, sha256: f.sha256, content: f.content };
      conflictEl.hidden = true;
      root.dataset.diagnostics = '0';
      makeView(f.content, f.path);
      root.dataset.file = f.path;
      setStatus(`mode ${f.mode}`, 'ok');
      refreshDirty();
      for (const b of treeEl.querySelectorAll('.tree-file')) b.setAttribute('aria-current', b.dataset.path === f.path ? 'true' : 'false');
    } catch (e) {
      setStatus(e instanceof ApiError ? e.message : 'Could not open the file.', 'error');
    }
  };

  const save = async (overwrite) => {
    if (!open || !view) return;
    const content = view.state.doc.toString();
    saveBtn.disabled = true;
    setStatus('saving…', 'busy');
    try {
      const f = await requestJSON('PUT', api('/file'), { path: open.path, content, base_sha256: open.sha256, overwrite: !!overwrite }, { timeoutMs: 30000 });
      open = { path: open.path, sha256: f.sha256, content };
      conflictEl.hidden = true;
      setStatus('saved', 'saved');
      root.dataset.saved = String(Number(root.dataset.saved || 0) + 1);
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) {
        conflictEl.hidden = false;
        setStatus('not saved: the file changed in the terminal', 'conflict');
      } else {
        setStatus(e instanceof ApiError ? e.message : 'Could not save the file.', 'error');
      }
    } finally {
      refreshDirty();
    }
  };

  const renderTree = (listing) => {
    const rootNode = buildTree(listing.entries);
    const renderNode = (node, depth) => {
      const ul = el('ul', 'tree-list');
      for (const c of sortedChildren(node)) {
        const li = el('li', `tree-item tree-${c.type}`);
        if (c.type === 'dir') {
          const d = el('details');
          const s = el('summary', 'tree-dir', c.name);
          d.appendChild(s);
          if (c.children.size) d.appendChild(renderNode(c, depth + 1));
          li.appendChild(d);
        } else if (c.type === 'file') {
          const b = el('button', 'tree-file', c.name);
          b.type = 'button';
          b.dataset.path = c.path;
          b.title = `~/${c.path}`;
          b.addEventListener('click', () => openFile(c.path));
          li.appendChild(b);
        } else {
          li.appendChild(el('span', 'tree-other', `${c.name}${c.type === 'link' ? ' →' : ''}`));
          li.title = c.type === 'link' ? 'a symlink: open the file it points to' : 'not a regular file';
        }
        ul.appendChild(li);
      }
      return ul;
    };
    treeEl.replaceChildren(renderNode(rootNode, 0));
    if (listing.truncated) treeEl.appendChild(el('p', 'tree-note', 'Not every file is listed (too many, or too deep): open others from the terminal.'));
    treeEl.dataset.loaded = 'true';
  };

  const loadTree = async () => {
    if (!session) return;
    try {
      renderTree(await getJSON(api('/files')));
      loadedTree = true;
    } catch (e) {
      treeEl.replaceChildren(el('p', 'tree-note', e instanceof ApiError ? e.message : 'Could not list your files.'));
    }
  };

  toggle.addEventListener('click', () => {
    const show = body.hidden;
    body.hidden = !show;
    root.dataset.open = show ? 'true' : 'false';
    toggle.setAttribute('aria-expanded', show ? 'true' : 'false');
    if (show && !loadedTree) loadTree();
  });
  refreshBtn.addEventListener('click', loadTree);
  saveBtn.addEventListener('click', () => save(false));
  $('editor-overwrite').addEventListener('click', () => save(true));
  $('editor-reload').addEventListener('click', () => {
    if (!open) return;
    const path = open.path;
    open = { ...open, content: view ? view.state.doc.toString() : open.content }; // no discard prompt: the banner asked
    openFile(path);
  });

  const onSession = () => {
    session = lab ? lab.dataset.session || '' : '';
    toggle.disabled = !session;
    updatePreviewLink();
    loadPreviewTargets();
    if (session && !body.hidden && !loadedTree) loadTree();
  };
  if (lab) new MutationObserver(onSession).observe(lab, { attributes: true, attributeFilter: ['data-session'] });
  onSession();
}
