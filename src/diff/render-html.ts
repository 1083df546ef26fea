/**
 * The diff as one self-contained HTML file (no network: inline CSS, inline script, the data as
 * JSON in the page): the summary on top, a step timeline, the aligned event streams side by
 * side for the chosen step, and the shadow-page forest of every profile after that step, with
 * the decoded role on hover.
 */
import { nodeKey, roleKey, type PairDiff } from './compare.js';
import { diffJson } from './render-json.js';
import type { DiffRun, NodeState } from './model.js';
import { roleLayout } from '../roles/layout.js';

function forestData(nodes: readonly NodeState[], common: ReadonlySet<string>) {
  return nodes.map((n) => ({
    key: nodeKey(n, common),
    gfn: n.gfn.toString(16),
    level: n.level,
    role: roleKey(n.fields, new Set(Object.keys(n.fields))),
    text: n.roleText,
    word: '0x' + (n.role >>> 0).toString(16),
    unsync: n.unsync,
    unsync_children: n.unsync_children,
    root_count: n.root_count,
    links: n.links.map((l) => [l.index, l.child]),
    leaves: n.leaves.length,
  }));
}

/** Escape text for a <script type="application/json"> block. */
function scriptSafe(json: string): string {
  return json.replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

export function renderHtml(scenario: string, runs: readonly DiffRun[], pairs: readonly PairDiff[]): string {
  const base = runs[0]!;
  const fa = roleLayout(base.profile).fields.map((f) => f.name);
  const forests = runs.map((run) => {
    const fb = new Set(roleLayout(run.profile).fields.map((f) => f.name));
    const common = new Set(fa.filter((f) => fb.has(f) && f !== 'level'));
    return {
      profile: run.profile.name,
      steps: run.steps.map((s) => ({ vm: s.vm, step: s.step, nodes: forestData(s.after.nodes, common) })),
      final: run.vms.map((v) => forestData(v.final.nodes, common)),
    };
  });
  const data = { ...(diffJson(scenario, pairs) as object), profiles: runs.map((r) => r.profile.name), forests };
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shadow-mmu diff: ${esc(scenario)}</title>
<style>
body{font:13px/1.4 system-ui,sans-serif;margin:0;color:#222}
header{padding:10px 16px;background:#f3f3f3;border-bottom:1px solid #ccc}
h1{font-size:16px;margin:0 0 6px}
.pair{margin:4px 0}.pair b{font-family:monospace}
.diff{color:#b00}.same{color:#070}
main{display:grid;grid-template-columns:260px 1fr;height:calc(100vh - 120px)}
#timeline{overflow:auto;border-right:1px solid #ccc;padding:4px}
.step{display:block;width:100%;text-align:left;border:0;background:none;padding:3px 6px;font:12px monospace;cursor:pointer;border-radius:3px}
.step.differs{color:#b00;font-weight:bold}.step.sel{background:#dde8ff}
#detail{overflow:auto;padding:8px 12px}
table.ev{border-collapse:collapse;width:100%;font:12px monospace}
table.ev td{padding:1px 6px;vertical-align:top;white-space:pre-wrap;word-break:break-all;width:50%}
tr.del td:first-child{background:#fdd}tr.ins td:last-child{background:#dfd}tr.layout td{background:#ffc}
.forests{display:flex;gap:16px;flex-wrap:wrap;margin-top:12px}
.forest{border:1px solid #ccc;border-radius:4px;padding:6px;min-width:280px}
.forest h3{margin:0 0 4px;font-size:13px}
.node{font:12px monospace;margin-left:14px}
.node.onlyhere{color:#b00;font-weight:bold}.node.root>span{text-decoration:underline}
.muted{color:#777}
</style></head><body>
<header><h1>shadow-mmu diff — ${esc(scenario)}</h1><div id="summary"></div>
<label>compare <select id="pair"></select></label></header>
<main><nav id="timeline"></nav><section id="detail"><div id="first-divergence"></div><div id="outcome"></div><div id="events"></div><div id="changes"></div><div class="forests" id="forest"></div></section></main>
<script type="application/json" id="data">${scriptSafe(JSON.stringify(data))}</script>
<script>
(function(){
var D=JSON.parse(document.getElementById('data').textContent);
var pairSel=document.getElementById('pair'),cur=0,sel=0;
function el(t,c,x){var e=document.createElement(t);if(c)e.className=c;if(x!=null)e.textContent=x;return e;}
var sum=document.getElementById('summary');
D.pairs.forEach(function(p,i){var s=p.summary,d=el('div','pair');
d.innerHTML='';d.appendChild(el('b',null,p.a+' vs '+p.b));
d.appendChild(el('span',s.steps_differ||s.stepsDiffer?'diff':'same',': '+s.stepsDiffer+' of '+s.steps+' steps differ; events only in '+p.a+': '+s.eventsOnlyA+', only in '+p.b+': '+s.eventsOnlyB+'; layout-only: '+s.layoutOnlyEvents+'; final forest: '+s.forestDiffers+'; counters: '+s.countersDiffer));
d.dataset.stepsDiffer=s.stepsDiffer;d.dataset.eventsOnlyA=s.eventsOnlyA;d.dataset.eventsOnlyB=s.eventsOnlyB;
sum.appendChild(d);var o=el('option',null,p.a+' vs '+p.b);o.value=i;pairSel.appendChild(o);});
pairSel.onchange=function(){cur=+pairSel.value;draw();};
function forestOf(fi,idx){var f=D.forests[fi];return idx<0?null:f.steps[idx];}
function drawForest(){var box=document.getElementById('forest');box.innerHTML='';
 var p=D.pairs[cur];var ia=0,ib=cur+1;var st=p.steps[sel];
 [ia,ib].forEach(function(fi){var f=D.forests[fi];var other=D.forests[fi===ia?ib:ia];
  var k=f.steps.findIndex(function(s){return s.vm===st.vm&&s.step===st.step;});
  var ko=other.steps.findIndex(function(s){return s.vm===st.vm&&s.step===st.step;});
  var nodes=k<0?[]:f.steps[k].nodes, onodes=ko<0?[]:other.steps[ko].nodes;
  var okeys={};onodes.forEach(function(n){okeys[n.key]=1;});
  var w=el('div','forest');w.dataset.profile=f.profile;w.appendChild(el('h3',null,f.profile+' after step '+st.step+' ('+nodes.length+' pages)'));
  var child={};nodes.forEach(function(n){n.links.forEach(function(l){child[l[1]]=1;});});
  function add(parent,i,idx,depth){var n=nodes[i];var d=el('div','node'+(okeys[n.key]?'':' onlyhere')+(n.root_count?' root':''));
   d.title='role '+n.word+': '+n.role+(n.unsync?' (unsync)':'');
   var s=el('span',null,(idx!=null?'['+idx+'] ':'')+'gfn '+n.gfn+' '+n.text+(n.unsync?' unsync':'')+(n.root_count?' root '+n.root_count:'')+(n.leaves?' · '+n.leaves+' leaves':''));
   d.appendChild(s);parent.appendChild(d);if(depth<6)n.links.forEach(function(l){add(d,l[1],l[0],depth+1);});}
  nodes.forEach(function(n,i){if(!child[i])add(w,i,null,0);});
  if(!nodes.length)w.appendChild(el('div','muted','(no shadow pages)'));
  box.appendChild(w);});}
function draw(){var p=D.pairs[cur];var tl=document.getElementById('timeline');tl.innerHTML='';
 p.steps.forEach(function(s,i){var b=el('button','step'+(s.differs?' differs':'')+(i===sel?' sel':''),(s.differs?'≠ ':'  ')+'vm'+s.vm+' #'+s.step+' '+s.label);
  b.dataset.vm=s.vm;b.dataset.step=s.step;b.onclick=function(){sel=i;draw();};tl.appendChild(b);});
 var f=p.summary.firstDivergence;document.getElementById('first-divergence').textContent=f?('first divergence: vm '+f.vm+' step '+f.step+' ('+f.label+'): '+f.what):'the runs agree step for step';
 var st=p.steps[sel];if(!st)return;
 var oc=document.getElementById('outcome');oc.textContent='step '+st.step+': '+st.label+' — '+p.a+': '+(st.outcome_a==null?'(not run)':st.outcome_a)+(st.outcome_a!==st.outcome_b?'  |  '+p.b+': '+(st.outcome_b==null?'(not run)':st.outcome_b):'');
 var t=el('table','ev');var h=el('tr');h.appendChild(el('th',null,p.a));h.appendChild(el('th',null,p.b));t.appendChild(h);
 st.events.forEach(function(e){var r=el('tr',e.op==='only-a'?'del':e.op==='only-b'?'ins':e.op==='layout-only'?'layout':'');
  r.appendChild(el('td',null,e.a||''));r.appendChild(el('td',null,e.b||''));if(e.fields)r.title='layout-only fields: '+e.fields.join(', ');t.appendChild(r);});
 var ev=document.getElementById('events');ev.innerHTML='';ev.appendChild(t);
 var ch=document.getElementById('changes');ch.innerHTML='';
 var ca={},cb={};st.changes_a.forEach(function(x){ca[x]=1;});st.changes_b.forEach(function(x){cb[x]=1;});
 st.changes_a.filter(function(x){return !cb[x];}).forEach(function(x){ch.appendChild(el('div','diff','- '+p.a+' state: '+x));});
 st.changes_b.filter(function(x){return !ca[x];}).forEach(function(x){ch.appendChild(el('div','same','+ '+p.b+' state: '+x));});
 drawForest();}
var first=D.pairs[0].steps.findIndex(function(s){return s.differs;});sel=first<0?0:first;draw();
})();
</script></body></html>
`;
}
