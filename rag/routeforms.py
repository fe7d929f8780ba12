"""The forms of questions with an exact answer from the paper table (counts, lists, rankings, authorship) and of
follow-up questions: regular expressions only, read by `rag.structured` and `rag.followup`."""
from __future__ import annotations

import re

POSTERS = r"(?:posters?|papers?|works|submissions|abstracts)"
COUNT = re.compile(rf"\bhow many\b(?:\s+\w+){{0,3}}?\s+{POSTERS}\b|\bnumber of {POSTERS}\b|\bcount (?:the |all )?{POSTERS}\b")
LIST = re.compile(rf"\b(?:list|show|name|enumerate|give me|find)\b.*\b{POSTERS}\b|\b(?:which|what|any) (?:poster |paper )?{POSTERS}\b|^{POSTERS}\b|\ball (?:the )?{POSTERS}\b|\bevery (?:poster|paper)\b")
RANK = re.compile(r"\b(most|top|largest|highest|leading|ranking|rank)\b")
INSTITUTION_WORD = re.compile(r"\b(institutions?|universit(?:y|ies)|compan(?:y|ies)|organi[sz]ations?|labs?|affiliations?)\b")
AUTHOR_WORD = re.compile(r"\b(authors?|researchers?|people)\b")
WHO_WROTE = re.compile(r"\bwho (?:wrote|authored|are the authors|is behind|presented|co-?authored)\b|\bauthors? (?:of|behind)\b|\bwho (?:are|were) the authors\b"
                        r"|\bwho (?:are|were) [\w .'’-]{1,60}?(?:['’]s?)? (?:authors|co-?authors)\b|\bnames? of (?:the |its |their )?authors\b")
WHERE_FROM = re.compile(r"\b(?:which|what) (?:institutions?|universit(?:y|ies)|compan(?:y|ies)|labs?|organi[sz]ations?|affiliations?)\b")
# The rule of a count or list over the paper table. A word in the titles: "titles containing the word 'LLM'",
# "with 'Agent' in the title".
_CONTAIN_VERB = r"contain(?:s|ing)?|includ(?:es|ing)|mention(?:s|ing)?|with|has|have|use|uses|using"
_TERM = r"[\"'“‘]?([\w][\w.+-]*)"
TITLE_WORD = re.compile(rf"\btitles?\b[^?]*?\b(?:{_CONTAIN_VERB})\s+(?:the\s+)?(?:word|term|string)?\s*{_TERM}"
                        rf"|{_TERM}[\"'”’]?\s+in (?:the |their |its |a )?titles?")
# A topic: "posters about X", "papers that tackle X" (group 1: the rest of the question).
_TOPIC_PREPOSITION = r"about|on|regarding|related to|discussing|concerning|dealing with|involving|mention(?:s|ing)?"
_TOPIC_VERB = r"mention|stud(?:y|ies)|address(?:es)?|tackles?|targets?|uses?|focus(?:es)? on|proposes?|improves?"
TOPIC = re.compile(rf"\b(?:{_TOPIC_PREPOSITION}|(?:that|which) (?:{_TOPIC_VERB}))\s+(.+)$")
# "How did the authors of X sum up …": the authors are who acts, not what is asked.
HOW_OR_WHY = re.compile(r"^\W*(?:how|why)\b")
TOP_N = re.compile(r"\btop\s+(\d{1,2}|three|five|ten)\b")
EXHAUSTIVE = re.compile(r"\b(?:list|every|all|enumerate)\b")
FOLLOW_UP_PRONOUN = re.compile(
    r"\b(?:(?:this|that|the same) (?:paper|poster|system|work|approach|method|technique|project|talk|one)"
    r"|it|its|they|their|them|he|she|his|her|this|that|these|those)\b", re.I)
FOLLOW_UP_LEAD = re.compile(r"^\s*(?:and|also|so|ok(?:ay)?|then|but|what about|how about)\b[\s,]*", re.I)
ASKS_FOR_ONE = re.compile(r"^\s*(?:which|what) (?:paper|poster|system|work|talk|project|one|framework|tool)\b", re.I)



