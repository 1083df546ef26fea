/**
 * A JSON op scenario read from its file in chunks (`run` of a 1e6-step file in flat memory): one
 * pass checks the whole file (its JSON, then the scenario, each step parsed and dropped), so a
 * bad file fails before any step runs, with the error parseScenario gives; the steps are then
 * read again one at a time as they run. A file the chunked reader does not take (gzip, a syntax
 * error, ...) is NotStreamable: read it whole with readInput for the usual error.
 */
import { inputFileChunks } from '../bits/input-file.js';
import { END, JsonArrayMemberStream, NotStreamable } from '../bits/json-stream.js';
import { getProfile, type Profile } from '../profiles/index.js';
import { parseScenario, parseStep, type Scenario, type Step } from './parse.js';

export { NotStreamable };

export interface StreamedScenario {
  /** The file's top level with "steps" as []: what isVmScenario and the header checks read. */
  readonly header: unknown;
  /** The scenario, its steps not kept (sc.steps is empty): parse it with parseStreamedScenario. */
  scenario(where: string): Scenario;
  /** The steps, read from the file again one at a time. */
  steps(profile: Profile): Iterable<Step>;
}

function open(file: string) {
  const input = inputFileChunks(file);
  return { input, stream: new JsonArrayMemberStream(input.read, 'steps') };
}

/** The profile a step is parsed under, if the file named it (as a string) before its steps. */
function profileBefore(stream: JsonArrayMemberStream): Profile | undefined {
  const t = stream.seen('profile');
  if (t === undefined) return undefined;
  try {
    const name = JSON.parse(t) as unknown;
    return typeof name === 'string' && name !== '' ? getProfile(name) : undefined;
  } catch {
    return undefined;
  }
}

/** The first error parseStep throws on the file's steps under `profile`, or undefined. */
function checkSteps(file: string, profile: Profile): unknown {
  const { input, stream } = open(file);
  try {
    for (let i = 0; ; i++) {
      const v = stream.next();
      if (v === END) return undefined;
      try {
        parseStep(profile, v, i);
      } catch (e) {
        return e;
      }
    }
  } finally {
    input.close();
  }
}

/**
 * Distinct step texts remembered, up to 32768 (a few MB): a scenario repeats its steps
 * (`{"op":"topup"}`, a zap, a cycle over a few thousand gfns) many times. Equal text is an equal
 * value and so, under one profile, an equal Step.
 */
const STEP_CACHE = 1 << 15;

/** A copy of `text` that holds no reference to the chunk it was cut from. */
function own(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

/** An element's text parsed, as JsonArrayMemberStream.next parses it. */
function parseElement(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new NotStreamable('element');
  }
}

/** Scan `file` whole; throws NotStreamable when it must be read the ordinary way. */
export function scanScenarioFile(file: string): StreamedScenario {
  const { input, stream } = open(file);
  let early: Profile | undefined;
  let stepErr: unknown;
  // Texts already parsed before the first step error: their Step under `early`, or null when the
  // profile comes after the steps (only the JSON was checked). The run under `early` starts with them.
  const seen = new Map<string, Step | null>();
  try {
    let i = 0;
    for (let t = stream.nextText(); t !== null; t = stream.nextText(), i++) {
      if (i === 0) early = profileBefore(stream);
      if (stepErr === undefined && seen.has(t)) continue;
      const v = parseElement(t);
      let step: Step | null = null;
      if (early && stepErr === undefined) {
        try {
          step = Object.freeze(parseStep(early, v, i));
        } catch (e) {
          stepErr = e;
        }
      }
      if (stepErr === undefined && seen.size < STEP_CACHE) seen.set(own(t), step);
    }
  } finally {
    input.close();
  }
  const header = stream.header();
  return {
    header,
    scenario(where) {
      return parseScenario(header, where, undefined, (_steps, profile) => {
        const e = profile === early ? stepErr : checkSteps(file, profile);
        if (e !== undefined) throw e;
        return [];
      });
    },
    steps(profile) {
      return {
        *[Symbol.iterator]() {
          const { input, stream } = open(file);
          const parsed = profile === early ? seen : new Map<string, Step | null>();
          try {
            for (let i = 0; ; i++) {
              const t = stream.nextText();
              if (t === null) return;
              let step = parsed.get(t);
              if (step === undefined || step === null) {
                step = parseStep(profile, parseElement(t), i);
                if (parsed.size < STEP_CACHE) parsed.set(own(t), Object.freeze(step));
              }
              yield step;
            }
          } finally {
            input.close();
          }
        },
      };
    },
  };
}
