"""The HTML view's inline CSS and JavaScript: nothing is loaded from anywhere.

The view works without the script (folding subtrees is CSS on checkboxes, opening a
span is native ``<details>``); the script only adds the toolbar (fold all, open the
errors). Every rule is scoped under ``.tt-view`` so it cannot restyle the notebook.
"""

from __future__ import annotations

from typing import Final

KIND_COLORS: Final[dict[str, str]] = {
    "graph": "#8250df",
    "agent": "#8250df",
    "workflow": "#8250df",
    "node": "#a475f9",
    "chain": "#0969da",
    "llm": "#0a7ea4",
    "embedding": "#1b9aaa",
    "tool": "#bf8700",
    "retriever": "#1a7f37",
    "prompt": "#57606a",
}
"""Badge and bar colour per span kind."""

_KIND_RULES = "".join(
    f".tt-view .tt-k-{kind}{{--tt-k:{color}}}" for kind, color in KIND_COLORS.items()
)

CSS: Final = (
    """
.tt-view{--tt-fg:#1f2328;--tt-muted:#656d76;--tt-line:#d0d7de;--tt-bg:#fff;--tt-soft:#f6f8fa;
--tt-hi:#ddf4ff;--tt-err:#cf222e;--tt-err-bg:#ffebe9;--tt-k:#6e7781;--tt-indent:16px;
font:13px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI","Noto Sans",Helvetica,Arial,sans-serif;
color:var(--tt-fg);background:var(--tt-bg);border:1px solid var(--tt-line);border-radius:6px;
max-width:100%;overflow:hidden;text-align:left}
.tt-view *{box-sizing:border-box}
.tt-view code,.tt-view pre,.tt-view .tt-mono{font-family:ui-monospace,SFMono-Regular,
"SF Mono",Menlo,Consolas,"Liberation Mono",monospace;font-size:12px}
.tt-view .tt-head{display:flex;flex-wrap:wrap;gap:6px 12px;align-items:center;padding:8px 10px;
border-bottom:1px solid var(--tt-line);background:var(--tt-soft)}
.tt-view .tt-head .tt-title{font-weight:600}
.tt-view .tt-muted{color:var(--tt-muted)}
.tt-view .tt-chip{display:inline-block;padding:0 6px;border-radius:10px;
border:1px solid var(--tt-line);background:var(--tt-bg);font-size:12px;white-space:nowrap}
.tt-view .tt-chip.tt-bad{color:var(--tt-err);border-color:var(--tt-err);background:var(--tt-err-bg);
font-weight:600}
.tt-view .tt-chip.tt-score{color:#0550ae;border-color:#54aeff}
.tt-view .tt-tools{margin-left:auto;display:flex;gap:4px}
.tt-view:not(.tt-js) .tt-tools{display:none}
.tt-view .tt-tools button{font:inherit;font-size:12px;padding:1px 8px;
border:1px solid var(--tt-line);border-radius:4px;background:var(--tt-bg);color:var(--tt-fg);
cursor:pointer}
.tt-view .tt-tools button:hover{background:var(--tt-hi)}
.tt-view .tt-row{display:grid;grid-template-columns:minmax(0,1fr) minmax(90px,34%) 68px;gap:8px;
align-items:center;padding:1px 10px;min-height:22px}
.tt-view .tt-axis{border-bottom:1px solid var(--tt-line);color:var(--tt-muted);font-size:11px}
.tt-view .tt-ticks{position:relative;height:16px}
.tt-view .tt-ticks span{position:absolute;top:0;transform:translateX(-50%);white-space:nowrap}
.tt-view .tt-ticks span:first-child{transform:none}
.tt-view .tt-ticks span:last-child{transform:translateX(-100%)}
.tt-view .tt-tree{max-height:none}
.tt-view summary.tt-row{cursor:pointer;list-style:none}
.tt-view summary.tt-row::-webkit-details-marker{display:none}
.tt-view summary.tt-row::marker{content:""}
.tt-view summary.tt-row:hover{background:var(--tt-soft)}
.tt-view details[open]>summary.tt-row{background:var(--tt-hi)}
.tt-view .tt-failed>summary.tt-row{background:var(--tt-err-bg);box-shadow:inset 3px 0 var(--tt-err)}
.tt-view .tt-label{display:flex;align-items:center;gap:6px;min-width:0;white-space:nowrap;
overflow:hidden}
.tt-view .tt-label>*{flex:none}
.tt-view .tt-label .tt-name,.tt-view .tt-label .tt-args,.tt-view .tt-label .tt-status{min-width:0;
overflow:hidden;text-overflow:ellipsis}
.tt-view .tt-label .tt-name{flex:0 0 auto;max-width:45%}
.tt-view .tt-label .tt-args{flex:0 100 auto}
.tt-view .tt-label .tt-status{flex:0 4 auto}
.tt-view .tt-twisty,.tt-view .tt-leaf{display:inline-block;width:14px;text-align:center;
color:var(--tt-muted);cursor:pointer;user-select:none}
.tt-view .tt-twisty::before{content:"\\25BE"}
.tt-view .tt-fold{display:none}
.tt-view .tt-fold:checked+details .tt-twisty::before{content:"\\25B8"}
.tt-view .tt-fold:checked~.tt-children{display:none}
.tt-view .tt-kind{font-size:11px;font-weight:600;color:#fff;background:var(--tt-k);
border-radius:3px;padding:0 4px;text-transform:lowercase}
.tt-view .tt-name{font-weight:600}
.tt-view .tt-failed .tt-name{color:var(--tt-err)}
.tt-view .tt-model{color:#0a7ea4}
.tt-view .tt-args{color:var(--tt-muted)}
.tt-view .tt-tok{color:#1a7f37;font-size:12px}
.tt-view .tt-status{color:var(--tt-err);font-weight:600}
.tt-view .tt-dot{color:var(--tt-err)}
.tt-view .tt-track{position:relative;height:10px;background:var(--tt-soft);border-radius:2px}
.tt-view .tt-bar{position:absolute;top:0;bottom:0;min-width:2px;border-radius:2px;
background:var(--tt-k);opacity:.85}
.tt-view .tt-failed .tt-bar{background:var(--tt-err)}
.tt-view .tt-dur{text-align:right;color:var(--tt-muted);font-size:12px;white-space:nowrap}
.tt-view .tt-body{padding:6px 10px 10px;border-left:2px solid var(--tt-k);
margin:0 10px 6px calc(var(--tt-depth,0)*var(--tt-indent) + 24px);background:var(--tt-bg)}
.tt-view .tt-sec{margin:6px 0}
.tt-view .tt-sec>h4{margin:8px 0 4px;font-size:12px;text-transform:uppercase;letter-spacing:.04em;
color:var(--tt-muted)}
.tt-view details.tt-more>summary{cursor:pointer;color:var(--tt-muted);font-size:12px;margin:6px 0}
.tt-view pre{margin:2px 0;padding:6px 8px;background:var(--tt-soft);border-radius:4px;
white-space:pre-wrap;word-break:break-word;overflow-wrap:anywhere;max-height:420px;overflow:auto}
.tt-view table.tt-kv,.tt-view table.tt-grid{border-collapse:collapse;width:100%;font-size:12px}
.tt-view table.tt-kv th{text-align:left;font-weight:500;color:var(--tt-muted);white-space:nowrap;
padding:1px 12px 1px 0;vertical-align:top;width:1%}
.tt-view table.tt-kv td{padding:1px 0;vertical-align:top;overflow-wrap:anywhere}
.tt-view table.tt-grid th,.tt-view table.tt-grid td{border:1px solid var(--tt-line);padding:3px 6px;
vertical-align:top;text-align:left;overflow-wrap:anywhere}
.tt-view table.tt-grid th{background:var(--tt-soft);font-weight:600}
.tt-view table.tt-kv pre,.tt-view table.tt-grid pre{margin:0}
.tt-view .tt-msgs{display:flex;flex-direction:column;gap:4px}
.tt-view .tt-msg{border:1px solid var(--tt-line);border-radius:6px;padding:4px 8px}
.tt-view .tt-msg-head{font-size:11px;font-weight:600;text-transform:uppercase;color:var(--tt-muted)}
.tt-view .tt-role-system{background:#fff8c5}
.tt-view .tt-role-user{background:#f1f8ff}
.tt-view .tt-role-assistant{background:#f6fff8}
.tt-view .tt-role-tool{background:#fff5e6}
.tt-view .tt-text{white-space:pre-wrap;overflow-wrap:anywhere;margin:2px 0}
.tt-view .tt-call{margin:4px 0}
.tt-view .tt-call>b{color:#9a6700}
.tt-view .tt-error{border:1px solid var(--tt-err);background:var(--tt-err-bg);color:var(--tt-err);
border-radius:6px;padding:6px 8px;margin:4px 0}
.tt-view .tt-error pre{background:transparent;color:inherit;padding:2px 0}
.tt-view .tt-cut{display:block;color:#9a6700;font-size:11px;font-style:italic}
.tt-view .tt-var{color:#8250df;font-weight:600}
"""
    + _KIND_RULES
)
"""The stylesheet, scoped under ``.tt-view``."""

SCRIPT: Final = """
(function(){
var root=document.getElementById(%(uid)s);
if(!root||root.getAttribute("data-tt-ready"))return;
root.setAttribute("data-tt-ready","1");
root.classList.add("tt-js");
function each(sel,fn){Array.prototype.forEach.call(root.querySelectorAll(sel),fn);}
function reveal(el){
  for(var n=el.parentElement;n&&n!==root;n=n.parentElement){
    if(n.classList.contains("tt-children")){
      var fold=n.parentElement.querySelector(":scope>input.tt-fold");
      if(fold)fold.checked=false;
    }
  }
}
root.addEventListener("click",function(ev){
  var t=ev.target;
  if(!(t instanceof Element))return;
  var b=t.closest("button[data-tt-act]");
  if(!b||!root.contains(b))return;
  var act=b.getAttribute("data-tt-act");
  if(act==="unfold")each("input.tt-fold",function(f){f.checked=false;});
  if(act==="fold")each("input.tt-fold",function(f){f.checked=true;});
  if(act==="close")each("details.tt-span",function(d){d.open=false;});
  if(act==="errors"){
    var first=null;
    each("details.tt-failed",function(d){d.open=true;reveal(d);if(!first)first=d;});
    if(first)first.scrollIntoView({block:"nearest"});
  }
});
})();
"""
"""The toolbar's script; ``%(uid)s`` is the view's element id as a JSON string."""
