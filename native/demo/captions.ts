/**
 * Caption draws for the demo pool: what a web crawl's alt texts look like (descriptive,
 * terse, junk, non-English, people with demographic terms, odd whitespace), plus the numbers the
 * feature synthesis needs to make CLIP scores behave like real ones for each kind of caption.
 */
import type { Rng } from './rng.js';
import { Weighted } from './rng.js';
import { EMOJI, EXACT, JUNK, LANGUAGES, PEOPLE, TOPICS, type Domain, type Topic } from './topics.js';

export type CaptionKind =
  | 'descriptive' | 'people' | 'short' | 'filename' | 'ads' | 'generic' | 'foreign' | 'mixed';

export interface CaptionDraw {
  /** null: a missing caption (rare, as in real pools) */
  text: string | null;
  kind: CaptionKind;
  /** 'en' or the language code of foreign / mixed captions */
  lang: string;
  /** number of people the caption mentions (faces drawn and listed in face_bboxes) */
  people: number;
  /** L/14 score shift planted for the demographic terms used */
  shift: number;
  /** which text cluster the caption's features sit in: topic index, or a junk cluster */
  textCluster: number;
  /** mean L/14 score of this kind of caption on a matching image */
  meanScore: number;
  /** an edge-case transform applied, if any (for tests and debugging) */
  edge: string | null;
}

/** Junk text clusters come after the topics. */
export const TEXT_CLUSTERS = TOPICS.length + 3;
const CLUSTER_FILENAME = TOPICS.length;
const CLUSTER_ADS = TOPICS.length + 1;
const CLUSTER_GENERIC = TOPICS.length + 2;

const genderW = new Weighted(PEOPLE.gender.map((g) => g[1]));
const ageW = new Weighted(PEOPLE.age.map((a) => a[1]));
const ethW = new Weighted(PEOPLE.ethnicity.map((e) => e[1]));

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}

function fill(rng: Rng, template: string, vars: Record<string, string>): string {
  return template.replace(/\{(\w)\}/g, (_, k: string) => {
    if (k === 'n') return String(rng.range(100, 99999));
    return vars[k] ?? '';
  });
}

/** A person phrase with its article, how many people it names, and the planted score shift. */
export function personPhrase(rng: Rng, topic: Topic): { phrase: string; people: number; shift: number } {
  if (rng.chance(topic.lgbtqRate)) {
    const phrase = rng.pick(PEOPLE.lgbtq);
    const people = /couple|two /.test(phrase) ? 2 : 1;
    return { phrase, people, shift: -0.045 };
  }
  if (rng.chance(0.12)) {
    const phrase = rng.pick(PEOPLE.groups);
    const people = /family|group/.test(phrase) ? rng.range(3, 4) : 2;
    return { phrase, people, shift: 0 };
  }
  if (rng.chance(0.08)) {
    const noun = rng.pick(PEOPLE.childNouns);
    const eth = rng.chance(0.2) ? PEOPLE.ethnicity[ethW.draw(rng)][0] : '';
    const words = ['little', eth, noun].filter(Boolean);
    if (rng.chance(0.5)) words.shift();
    return { phrase: `${article(words[0])} ${words.join(' ')}`, people: 1, shift: 0.01 };
  }
  const noun = PEOPLE.gender[genderW.draw(rng)][0];
  const isYoung = noun === 'girl' || noun === 'boy';
  let age = '';
  if (rng.chance(0.35)) {
    age = PEOPLE.age[ageW.draw(rng)][0];
    if (isYoung && age !== 'young' && age !== 'teenage') age = '';
  }
  const eth = rng.chance(0.25) ? PEOPLE.ethnicity[ethW.draw(rng)][0] : '';
  const words = [age, eth, noun].filter(Boolean);
  let shift = 0;
  const older = age === 'old' || age === 'elderly' || age === 'senior';
  if (older && (noun === 'woman' || noun === 'lady')) shift -= 0.04;
  else if (older) shift -= 0.01;
  if (eth === 'Black') shift -= 0.01;
  if (age === 'young') shift += 0.005;
  return { phrase: `${article(words[0])} ${words.join(' ')}`, people: 1, shift };
}

function capitalise(rng: Rng, s: string): string {
  const r = rng.next();
  if (r < 0.45) return s.charAt(0).toUpperCase() + s.slice(1);
  if (r < 0.5) return s.charAt(0).toUpperCase() + s.slice(1) + '.';
  if (r < 0.52) return s.toUpperCase();
  return s;
}

const EDGES = ['newline', 'trailing-newline', 'tab', 'nbsp', 'ideographic', 'nel', 'emoji', 'five', 'six', 'two', 'three', 'padded'] as const;

function applyEdge(rng: Rng, text: string, edge: string): string {
  const oneSpace = (sep: string) => {
    const spaces: number[] = [];
    for (let i = 0; i < text.length; i++) if (text[i] === ' ') spaces.push(i);
    if (!spaces.length) return text + sep + 'photo';
    const at = rng.pick(spaces);
    return text.slice(0, at) + sep + text.slice(at + 1);
  };
  switch (edge) {
    case 'newline': return oneSpace('\n');
    case 'trailing-newline': return text.split(' ')[0] + '\n';
    case 'tab': return oneSpace('\t');
    case 'nbsp': return text.replaceAll(' ', '\u00a0');
    case 'ideographic': return oneSpace('\u3000');
    case 'nel': return oneSpace('\u0085');
    case 'emoji': return rng.chance(0.5) ? `${text} ${rng.pick(EMOJI)}` : `${rng.pick(EMOJI)}${rng.pick(EMOJI)} ${text}`;
    case 'five': return rng.pick(EXACT.fiveChars);
    case 'six': return rng.pick(EXACT.sixChars);
    case 'two': return rng.pick(EXACT.twoWords);
    case 'three': return rng.pick(EXACT.threeWords);
    case 'padded': return `  ${text} `;
    default: return text;
  }
}

/**
 * One caption for an image of `topic` / `subject` (subtopic index) found on `domain`.
 */
export function drawCaption(rng: Rng, topicIndex: number, subject: number, domain: Domain): CaptionDraw {
  const topic = TOPICS[topicIndex];
  const subj = topic.subjects[subject];
  const base = { people: 0, shift: 0, textCluster: topicIndex, edge: null as string | null, lang: 'en' };
  if (rng.chance(1 / 8000)) return { ...base, text: null, kind: 'generic', textCluster: CLUSTER_GENERIC, meanScore: 0.12 };

  const foreignRate = 0.085 + (domain.foreign ?? 0);
  const r = rng.next();
  if (r < foreignRate) {
    const langs = Object.keys(topic.foreign);
    const lang = rng.pick(langs);
    let text = rng.pick(topic.foreign[lang]);
    if (rng.chance(0.25)) text += ` ${rng.range(2, 2024)}`;
    if (lang === 'ja' && rng.chance(0.3)) text = text + '\u3000' + rng.pick(topic.foreign[lang]);
    const cjk = lang === 'zh' || lang === 'ja' || lang === 'ru';
    return { ...base, text, kind: 'foreign', lang, meanScore: cjk ? 0.145 : 0.17 };
  }
  if (r < foreignRate + 0.02) {
    const langs = Object.keys(topic.foreign);
    const lang = rng.pick(langs);
    const en = rng.pick(topic.short);
    const text = rng.chance(0.5) ? `${rng.pick(topic.foreign[lang])} ${en}` : `${en} - ${rng.pick(topic.foreign[lang])}`;
    return { ...base, text, kind: 'mixed', lang, meanScore: 0.19 };
  }
  let x = r - foreignRate - 0.02;
  if (x < 0.04) return { ...base, text: fill(rng, rng.pick(JUNK.filename), {}), kind: 'filename', textCluster: CLUSTER_FILENAME, meanScore: 0.105 };
  x -= 0.04;
  if (x < 0.035) return { ...base, text: fill(rng, rng.pick(JUNK.ads), {}), kind: 'ads', textCluster: CLUSTER_ADS, meanScore: 0.125 };
  x -= 0.035;
  if (x < 0.03) return { ...base, text: rng.pick(JUNK.generic), kind: 'generic', textCluster: CLUSTER_GENERIC, meanScore: 0.115 };
  x -= 0.03;

  let text: string;
  let kind: CaptionKind;
  let meanScore: number;
  let people = 0;
  let shift = 0;
  const vars = { s: subj, a: rng.pick(topic.adjectives), x: rng.pick(topic.extras) };
  if (x < 0.1) {
    text = rng.chance(0.6) ? rng.pick(topic.short) : `${vars.a} ${subj}`;
    kind = 'short';
    meanScore = 0.205;
  } else if (topic.peopleTemplates.length && rng.chance(topic.peopleRate)) {
    const p = personPhrase(rng, topic);
    text = fill(rng, rng.pick(topic.peopleTemplates), { ...vars, p: p.phrase });
    kind = 'people';
    people = p.people;
    shift = p.shift;
    meanScore = 0.24;
  } else {
    text = fill(rng, rng.pick(topic.templates), vars);
    kind = 'descriptive';
    meanScore = 0.235;
  }
  // templates put "a" before any subject: fix the article before vowels ("a alpine lake")
  text = text.replace(/\s+/g, ' ').trim().replace(/\b([Aa]) (?=[aeiou])/g, '$1n ');
  text = capitalise(rng, text);
  let edge: string | null = null;
  if (rng.chance(0.045)) {
    edge = rng.pick(EDGES);
    text = applyEdge(rng, text, edge);
    if (edge === 'five' || edge === 'six' || edge === 'two' || edge === 'three') {
      // the caption was replaced: it no longer names people
      people = 0;
      shift = 0;
    }
  }
  return { text, kind, lang: 'en', people, shift, textCluster: topicIndex, meanScore, edge };
}

export { LANGUAGES };
