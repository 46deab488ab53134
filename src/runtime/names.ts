// Random container names in Docker's style: "adjective_scientist".
const LEFT = [
  'admiring', 'agitated', 'amazing', 'angry', 'awesome', 'blissful', 'bold', 'brave', 'charming', 'clever',
  'compassionate', 'competent', 'confident', 'cool', 'dazzling', 'determined', 'eager', 'ecstatic', 'elegant',
  'epic', 'festive', 'focused', 'friendly', 'funny', 'gallant', 'gifted', 'goofy', 'gracious', 'happy',
  'hopeful', 'hungry', 'infallible', 'inspiring', 'jolly', 'jovial', 'keen', 'kind', 'laughing', 'loving',
  'lucid', 'magical', 'modest', 'musing', 'mystifying', 'naughty', 'nervous', 'nice', 'nifty', 'nostalgic',
  'objective', 'optimistic', 'peaceful', 'pensive', 'practical', 'priceless', 'quirky', 'quizzical',
  'relaxed', 'reverent', 'romantic', 'sad', 'serene', 'sharp', 'silly', 'sleepy', 'stoic', 'strange',
  'sweet', 'tender', 'thirsty', 'trusting', 'upbeat', 'vibrant', 'vigilant', 'vigorous', 'wizardly',
  'wonderful', 'xenodochial', 'youthful', 'zealous', 'zen',
];
const RIGHT = [
  'albattani', 'allen', 'archimedes', 'babbage', 'bardeen', 'bartik', 'bell', 'blackwell', 'bohr', 'booth',
  'borg', 'bose', 'cannon', 'carson', 'cerf', 'chandrasekhar', 'clarke', 'curie', 'darwin', 'davinci',
  'dijkstra', 'easley', 'einstein', 'elion', 'euclid', 'euler', 'fermat', 'fermi', 'feynman', 'franklin',
  'galileo', 'gauss', 'goldberg', 'goodall', 'hamilton', 'hawking', 'heisenberg', 'hopper', 'hypatia',
  'jackson', 'jennings', 'kalam', 'kepler', 'knuth', 'lamarr', 'leakey', 'lovelace', 'lumiere', 'mayer',
  'mccarthy', 'meitner', 'mendel', 'morse', 'newton', 'nobel', 'noether', 'pascal', 'pasteur', 'perlman',
  'pike', 'poincare', 'ramanujan', 'ritchie', 'rosalind', 'sammet', 'shannon', 'shaw', 'sinoussi', 'stonebraker',
  'swartz', 'tesla', 'thompson', 'torvalds', 'turing', 'varahamihira', 'visvesvaraya', 'wilson', 'wing',
  'wozniak', 'wright', 'yalow', 'yonath',
];

export function randomName(taken: (name: string) => boolean): string {
  const pick = (a: string[]) => a[Math.floor(Math.random() * a.length)]!;
  for (let i = 0; i < 100; i++) {
    const n = `${pick(LEFT)}_${pick(RIGHT)}${i > 10 ? Math.floor(Math.random() * 10) : ''}`;
    if (!taken(n)) return n;
  }
  return `${pick(LEFT)}_${pick(RIGHT)}_${Date.now().toString(36)}`;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Docker's rule for a container name given with --name or to rename. */
export function checkContainerName(name: string): void {
  if (!NAME_RE.test(name)) throw new Error(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
}
