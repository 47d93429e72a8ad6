"""Docker-style random container names: ``adjective_surname`` (a short list of moby's words)."""

from __future__ import annotations

import random

__all__ = ["random_name"]

_LEFT = ("admiring", "adoring", "affectionate", "agitated", "amazing", "angry", "awesome", "beautiful",
         "blissful", "bold", "boring", "brave", "busy", "charming", "clever", "compassionate", "competent",
         "confident", "cool", "cranky", "crazy", "dazzling", "determined", "distracted", "dreamy", "eager",
         "ecstatic", "elastic", "elated", "elegant", "eloquent", "epic", "exciting", "fervent", "festive",
         "flamboyant", "focused", "friendly", "frosty", "funny", "gallant", "gifted", "goofy", "gracious",
         "great", "happy", "hardcore", "heuristic", "hopeful", "hungry", "infallible", "inspiring",
         "intelligent", "interesting", "jolly", "jovial", "keen", "kind", "laughing", "loving", "lucid",
         "magical", "modest", "musing", "mystifying", "naughty", "nervous", "nice", "nifty", "nostalgic",
         "objective", "optimistic", "peaceful", "pedantic", "pensive", "practical", "priceless", "quirky",
         "quizzical", "recursing", "relaxed", "reverent", "romantic", "sad", "serene", "sharp", "silly",
         "sleepy", "stoic", "strange", "stupefied", "suspicious", "sweet", "tender", "thirsty", "trusting",
         "unruffled", "upbeat", "vibrant", "vigilant", "vigorous", "wizardly", "wonderful", "xenodochial",
         "youthful", "zealous", "zen")
_RIGHT = ("albattani", "allen", "almeida", "archimedes", "ardinghelli", "aryabhata", "austin", "babbage",
          "banach", "bardeen", "bartik", "bassi", "bell", "bhabha", "blackwell", "bohr", "booth", "borg",
          "bose", "boyd", "brahmagupta", "brattain", "brown", "carson", "chandrasekhar", "chatterjee",
          "cohen", "colden", "cori", "cray", "curie", "darwin", "davinci", "dijkstra", "dubinsky", "easley",
          "einstein", "elion", "engelbart", "euclid", "euler", "fermat", "fermi", "feynman", "franklin",
          "galileo", "gates", "goldberg", "goldstine", "goodall", "hamilton", "hawking", "heisenberg",
          "hermann", "hodgkin", "hoover", "hopper", "hugle", "hypatia", "jackson", "jang", "jennings",
          "jepsen", "johnson", "joliot", "kalam", "kapitsa", "keldysh", "keller", "kepler", "khorana",
          "kilby", "knuth", "lalande", "lamarr", "leakey", "leavitt", "lehmann", "lichterman", "liskov",
          "lovelace", "lumiere", "mahavira", "margulis", "mayer", "mccarthy", "mcclintock", "meitner",
          "mendel", "mirzakhani", "montalcini", "moore", "morse", "napier", "nash", "neumann", "newton",
          "nobel", "noether", "northcutt", "noyce", "pascal", "pasteur", "payne", "perlman", "pike",
          "poincare", "ptolemy", "raman", "ramanujan", "ritchie", "rosalind", "sammet", "shannon",
          "shockley", "sinoussi", "stonebraker", "swanson", "tesla", "thompson", "torvalds", "turing",
          "varahamihira", "visvesvaraya", "wescoff", "wiles", "williams", "wilson", "wing", "wozniak",
          "wright", "yalow", "yonath")


def random_name(with_number: bool = False) -> str:
    name = f"{random.choice(_LEFT)}_{random.choice(_RIGHT)}"
    if name == "boring_wozniak":  # Steve Wozniak is not boring (moby)
        name = "busy_wozniak"
    return f"{name}{random.randint(0, 9)}" if with_number else name
