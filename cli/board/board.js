/* board.js — the flow board's script; cli/board_http.c puts it inline in
 * index.html. Every figure sits in an element with data-metric (its path:
 * into the report, or "stages.<name>.<field>") and data-fmt (how to show
 * it); render() fills its text and data-value (the raw number, "" for
 * none). Data goes in with textContent only, never as markup. */
'use strict';
const STAGES=['intake','qualification','followup','timing'];
const FUNNEL=[['submitted','submitted','sub'],['invalid','invalid (dead-lettered)','lost'],['merged','merged duplicates','lost'],['accepted','accepted',''],['qualified','qualified',''],['nurture','nurture',''],['disqualified','disqualified','lost'],['undecided','undecided',''],['touched','touched',''],['responders','answered','good'],['handed_off','handed off, deal open','good'],['converted','converted','good'],['lost','deal lost','lost'],['responded','deal window passed','good'],['not_interested','not interested','lost'],['unsubscribed','unsubscribed','lost'],['bounced','bounced','lost'],['no_response','no response','lost'],['closed','closed',''],['open','open','']];
function el(tag,attrs,text){const e=document.createElement(tag);for(const k in attrs||{})e.setAttribute(k,attrs[k]);if(text!=null)e.textContent=text;return e}
// the placeholders of the static markup, built once
function build(){
 const card=n=>{const s=el('div',{class:'stage',id:'stage-'+n,'data-stage':n});s.appendChild(el('h3',{},n));const d=el('dl',{class:'kv'});
  for(const [f,l,fmt] of [['throughput_per_s','throughput','rate'],['lag','lag (messages)','count'],['waiting','waiting','count'],['oldest_waiting_s','oldest waiting','dur']]){d.appendChild(el('dt',{},l));d.appendChild(el('dd',{'data-metric':'stages.'+n+'.'+f,'data-fmt':fmt,id:'stage-'+n+'-'+f.replace(/_/g,'-')}))}
  d.appendChild(el('dt',{},'dead time p50/p90'));const dd=el('dd');dd.appendChild(el('span',{'data-metric':'dead_time_ms.'+n+'.p50','data-fmt':'ms'}));dd.appendChild(document.createTextNode(' / '));dd.appendChild(el('span',{'data-metric':'dead_time_ms.'+n+'.p90','data-fmt':'ms'}));d.appendChild(dd);s.appendChild(d);return s};
 const st=document.querySelector('.stages');st.textContent='';STAGES.forEach(n=>st.appendChild(card(n)));
 const f=document.getElementById('funnel');f.textContent='';
 for(const [k,l,c] of FUNNEL){const r=el('div',{class:'row '+c});r.appendChild(el('span',{},l));const t=el('div',{class:'track'});t.appendChild(el('div',{class:'fill','data-bar':'funnel.'+k}));r.appendChild(t);r.appendChild(el('span',{class:'n',id:'funnel-'+k,'data-metric':'funnel.'+k,'data-fmt':'count'}));f.appendChild(r)}
 const tb=document.querySelector('#arms tbody');tb.textContent='';
 for(const a of ['adaptive','fixed','holdout']){const r=el('tr',{});r.appendChild(el('td',{},a==='adaptive'?'learned (adaptive)':a==='fixed'?'fixed schedule':'global holdout'));const p='timing_arms.'+a+'.';
  r.appendChild(el('td',{class:'num','data-metric':p+'touched','data-fmt':'count'}));r.appendChild(el('td',{class:'num','data-metric':p+'responded','data-fmt':'count'}));r.appendChild(el('td',{class:'num','data-metric':p+'rate','data-fmt':'pct'}));const ci=el('td',{class:'num'});ci.appendChild(el('span',{'data-metric':p+'ci95.0','data-fmt':'pct'}));ci.appendChild(document.createTextNode(' – '));ci.appendChild(el('span',{'data-metric':p+'ci95.1','data-fmt':'pct'}));r.appendChild(ci);tb.appendChild(r)}
}
const F={
 count:v=>Math.round(v).toLocaleString('en-US'),
 rate:v=>v.toFixed(v<10?2:1)+'/s',
 pct:v=>(v*100).toFixed(1)+'%',
 state:v=>v>0?'proven better':v<0?'harmful':'not proven yet',
 money:v=>(v/100).toLocaleString('en-US',{minimumFractionDigits:2,maximumFractionDigits:2}),
 ms:v=>v<1000?Math.round(v)+' ms':F.dur(v/1000),
 dur:v=>{if(v<60)return v.toFixed(v<10?2:1)+'s';const t=Math.round(v),p=n=>String(n).padStart(2,'0');
  if(t<3600)return Math.floor(t/60)+'m '+p(t%60)+'s';if(t<86400)return Math.floor(t/3600)+'h '+p(Math.floor(t%3600/60))+'m';return Math.floor(t/86400)+'d '+p(Math.floor(t%86400/3600))+'h'},
};
function get(o,path){for(const k of path.split('.')){if(o==null)return undefined;o=o[k]}return o}
function show(e,v){const ok=typeof v==='number'&&isFinite(v);e.dataset.value=ok?String(v):'';e.textContent=ok?(F[e.dataset.fmt]||String)(v):'n/a'}
// the parts of the timing section whose shape follows the data: the
// comparison with the global holdout (a note while it has no lead) and the
// per-step rows; built before the figures are filled in
function timing(rep){
 const ta=rep.timing_arms||{},h=document.getElementById('holdout-lift');h.textContent='';
 if(ta.holdout_lift){const p='timing_arms.holdout_lift.';h.appendChild(document.createTextNode('over the global holdout: '));
  h.appendChild(el('span',{'data-metric':p+'value','data-fmt':'pct'}));h.appendChild(document.createTextNode(' ['));h.appendChild(el('span',{'data-metric':p+'ci95.0','data-fmt':'pct'}));
  h.appendChild(document.createTextNode(', '));h.appendChild(el('span',{'data-metric':p+'ci95.1','data-fmt':'pct'}));h.appendChild(document.createTextNode('] '));h.appendChild(el('span',{class:'state','data-metric':p+'state_code','data-fmt':'state'}))}
 else h.textContent=ta.holdout_note||'';
 const sb=document.querySelector('#per-step tbody');sb.textContent='';
 (ta.per_step||[]).forEach((v,i)=>{const p='timing_arms.per_step.'+i+'.',r=el('tr',{});r.appendChild(el('td',{},'\u2265 '+v.min_touches+' touches'));
  for(const a of ['adaptive','fixed']){const c=el('td',{class:'num'});c.appendChild(el('span',{'data-metric':p+a+'.responded','data-fmt':'count'}));c.appendChild(document.createTextNode('/'));c.appendChild(el('span',{'data-metric':p+a+'.touched','data-fmt':'count'}));r.appendChild(c)}
  r.appendChild(el('td',{class:'num','data-metric':p+'lift.value','data-fmt':'pct'}));r.appendChild(el('td',{'data-metric':p+'lift.state_code','data-fmt':'state'}));sb.appendChild(r)});
 const open=get(rep,'timing_arms.lift.state_code')===0,est=typeof get(rep,'timing_arms.lift.more_needed.adaptive')==='number';
 document.getElementById('lift-more').hidden=!(open&&est);document.getElementById('lift-more-na').hidden=!(open&&!est);
}
function render(d){
 const rep=d.report||{},stages={};(d.stages||[]).forEach(s=>stages[s.name]=s);
 timing(rep);
 document.querySelectorAll('[data-metric]').forEach(e=>{const m=e.dataset.metric;show(e,m.startsWith('stages.')?get(stages,m.slice(7)):get(rep,m))});
 const top=Math.max(1,get(rep,'funnel.submitted')||0);document.querySelectorAll('[data-bar]').forEach(e=>{const v=get(rep,e.dataset.bar)||0;e.style.width=Math.min(100,100*v/top)+'%'});
 STAGES.forEach(n=>{const s=stages[n]||{},a=s.oldest_waiting_s;document.getElementById('stage-'+n).dataset.health=a==null?'ok':a>86400?'bad':a>3600?'warn':'ok'});
 const wb=document.querySelector('#waiting tbody');wb.textContent='';
 (d.waiting_longest||[]).forEach((w,i)=>{const r=el('tr',{'data-rank':String(i+1),'data-lead-id':w.lead_id});r.appendChild(el('td',{class:'id'},w.lead_id));r.appendChild(el('td',{},w.owner));r.appendChild(el('td',{},w.stage));const a=el('td',{class:'num','data-fmt':'dur'});show(a,w.age_s);r.appendChild(a);r.appendChild(el('td',{},w.next_step));wb.appendChild(r)});
 document.getElementById('waiting-none').hidden=(d.waiting_longest||[]).length>0;
 const ub=document.querySelector('#unassigned tbody');ub.textContent='';
 (d.unassigned||[]).forEach(u=>{const r=el('tr',{'data-team':u.team});r.appendChild(el('td',{},u.team));const n=el('td',{class:'num','data-fmt':'count'});show(n,u.count);r.appendChild(n);r.appendChild(el('td',{class:'id'},u.oldest_lead));const a=el('td',{class:'num','data-fmt':'dur'});show(a,u.oldest_age_s);r.appendChild(a);ub.appendChild(r)});
 document.getElementById('unassigned-none').hidden=(d.unassigned||[]).length>0;
 const ob=document.querySelector('#owners tbody');ob.textContent='';
 (rep.open_by_owner||[]).slice(0,12).forEach(o=>{const r=el('tr',{});r.appendChild(el('td',{},o.owner));const n=el('td',{class:'num','data-fmt':'count'});show(n,o.open);r.appendChild(n);ob.appendChild(r)});
 const lv=get(rep,'timing_arms.lift.value'),lo=get(rep,'timing_arms.lift.ci95.0'),hi=get(rep,'timing_arms.lift.ci95.1');
 const ci=document.getElementById('lift-ci'),sp=ci.querySelector('.span'),dot=ci.querySelector('.dot'),z=ci.querySelector('.zero');
 // the always-valid interval on the log of the rate ratio: -50% and +100%
 // sit equally far
 if(typeof lo==='number'&&typeof hi==='number'&&lo>-1){const L=v=>Math.log(1+v),m=Math.max(Math.log(1.25),-L(lo),L(hi))*1.1,x=v=>(50+50*L(v)/m)+'%';sp.style.left=x(lo);sp.style.width=(50*(L(hi)-L(lo))/m)+'%';z.style.left=x(0);dot.style.left=x(lv);ci.hidden=false}else ci.hidden=true;
 const now=document.getElementById('board-now');now.dataset.value=String(d.now_ms);now.textContent=new Date(d.now_ms).toISOString().replace('T',' ').slice(0,16)+' UTC';
 document.getElementById('board-refreshed').textContent=new Date(d.generated_at_ms).toLocaleTimeString('en-GB');
 const errs=d.errors||[],st=document.getElementById('board-status');
 document.getElementById('board-errors').textContent=errs.join('\n');
 st.dataset.state=errs.length?'error':'live';st.textContent=errs.length?'degraded: '+errs.length+' problem(s)':d.report_stale?'stale':'live';
 document.body.dataset.refreshes=String(+(document.body.dataset.refreshes||0)+1);document.body.dataset.generatedAt=String(d.generated_at_ms);
}
let period=2000;
async function tick(){try{const r=await fetch('/api/board',{cache:'no-store'});const d=await r.json();if(!r.ok)throw new Error(d.error||r.status);period=d.refresh_ms||period;render(d)}catch(e){const st=document.getElementById('board-status');st.dataset.state='error';st.textContent='board unreachable: '+e.message}finally{setTimeout(tick,period)}}
build();tick();
