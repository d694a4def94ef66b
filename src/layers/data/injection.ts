// Prompt-injection detection in results: rules for what instructions aimed at a model look like
// (overriding earlier instructions, new tasks, secrecy from the user, sending data somewhere,
// chat-template tokens, invisible Unicode, exfiltration links) and the directive analysis
// (content/directives.ts), each with a weight. By default a learned model (injectionModel.ts)
// gives the score: it reads the text's wording together with the rules that fired and the
// directive features, and so carries over to wording no rule names; rules that do not read wording
// (invisible characters, links that carry data, decoded payloads) keep their own weight beside it.
// With `scorer: rules` the score is the noisy-OR of the weights of the rules that fired
// (1 − Π(1 − w)). Every pattern is linear: bounded gaps, no nested unbounded repetition.

import { directiveAnalysis, type DirectiveSignalId } from "../../content/directives.ts";
import { prepareText } from "../catalog/text.ts";
import { learnedInjectionScore } from "./injectionModel.ts";
import { decodeEntities } from "./links.ts";

export interface InjectionRule {
  readonly id: string;
  readonly weight: number;
  readonly pattern: RegExp;
}

/**
 * Per rule, literals at least one of which every match contains (lower case, whitespace collapsed
 * to one space): a rule runs only on a text that holds one. A test checks on every corpus that the
 * gates change no verdict.
 */
const VOCATIVES = [
  "assistant",
  "model",
  "ai,",
  "ai:",
  "ai!",
  "ai ,",
  "ai :",
  "llm",
  "chatbot",
  "copilot",
  "claude",
  "chatgpt",
  "gemini",
  "bot",
];
const TRIGGERS: Readonly<Record<string, readonly string[]>> = {
  "override-instructions": [
    "ignor",
    "disregard",
    "forget",
    "overrid",
    "bypass",
    "skip",
    "abandon",
    "discard",
    "drop",
  ],
  "override-instructions-translated": ["ignor", "oubliez", "vergiss", "olvida", "忽略"],
  "new-task": ["task", "goal", "instruction", "objective", "purpose", "mission", "job", "from now on"],
  "changed-instructions": [
    "instruction",
    "task",
    "goal",
    "rules",
    "directive",
    "orders",
    "objective",
    "priorities",
    "configuration",
    "request",
    "question",
    "assignment",
    "instead of",
  ],
  "new-instructions": ["instruction", "directive", "orders", "task"],
  "role-hijack": ["you are", "mode", "act as"],
  "addressed-to-model": [
    "attention",
    "note",
    "message",
    "instruction",
    "important",
    "notice",
    "dear",
    "hey",
    "hello",
    "hi ",
  ],
  "addressed-vocative": [
    ...VOCATIVES,
    "as the ai",
    "as an ai",
    "as a ai",
    "llm",
    "language model",
    "assistant reading",
    "model reading",
    "automated",
    "autonomous",
    "for ai ",
    "for llm ",
    "only]",
    "only ]",
  ],
  "addressed-if-ai": [
    "if you are",
    "reading",
    "processing",
    "summari",
    "parsing",
    "viewing",
    "crawling",
    "scanning",
    "analy",
  ],
  "claimed-authority": [
    "from your",
    "you are helping",
    "you are assisting",
    "you are talking",
    "you are working",
    "authori",
    "permitted",
    "allowed",
    "cleared",
    "suspended",
    "disabled",
    "lifted",
    "removed",
    "turned off",
    "waived",
  ],
  "output-manipulation": ["must ", "should ", "has to", "needs to", "describe", "always"],
  secrecy: [
    "do not",
    "don't",
    "dont",
    "never",
    "without",
    "must not",
    "should not",
    "mustn",
    "tell nobody",
    "quietly",
    "silently",
    "secretly",
    "covertly",
  ],
  "secrecy-from-user": ["keep", "the user", "without"],
  "covert-action": ["silently", "secretly", "quietly", "covertly", "discreetly", "invisibly"],
  "unconfirmed-action": ["without", "disable", "bypass", "turn off"],
  "dangerous-action": ["curl", "wget", "grant", "transfer", "delete", "no confirmation", "confirm without"],
  "steer-user": ["tell the user", "ask the user"],
  "reveal-secrets": ["password", "api key", "secret", "credential", "private key", "ssh key", "token"],
  "exfiltrate-data": [
    "http",
    "www.",
    "@",
    "the following",
    "the url",
    "the address",
    "the endpoint",
    "the webhook",
    "the server",
    "this url",
    "this address",
    "this endpoint",
    "this webhook",
    "this server",
  ],
  "sensitive-file": [
    "~/.ssh/",
    "/etc/passwd",
    "/etc/shadow",
    ".aws/credentials",
    ".git-credentials",
    "~/.netrc",
  ],
  "chat-template": [
    "<|",
    "[inst]",
    "[/inst]",
    "<<sys>>",
    "<</sys>>",
    "<system",
    "</system",
    "<tool_",
    "</tool_",
    "<function_",
    "</function_",
  ],
  "fake-system-message": ["system", "admin", "developer"],
  "instruction-tag": [
    "<important>",
    "<system>",
    "<instruction",
    "<admin>",
    "<critical>",
    "<secret>",
    "<hidden>",
    "<note_to_ai>",
    "<ai_instruction",
  ],
  "prompt-leak": ["system prompt", "system message", "instructions", "prompt", "developer message", "above"],
  "tool-directive": ["tool", "function"],
  "before-answering": [
    "before answering",
    "before responding",
    "before replying",
    "before you answer",
    "before you respond",
    "before you reply",
  ],
  "urgent-directive": ["important", "urgent", "critical", "attention", "warning", "notice"],
  "encoded-instructions": ["decode", "decrypt", "rot13", "deobfuscate"],
};

export interface InjectionVerdict {
  readonly score: number;
  /** Rule ids that fired, strongest first. */
  readonly rules: readonly string[];
}

const W = "(?:[\\w'’]+\\s+)";

export const INJECTION_RULES: readonly InjectionRule[] = [
  {
    id: "override-instructions",
    weight: 0.75,
    pattern: new RegExp(
      `\\b(?:ignore|disregard|forget|override|bypass|skip|abandon|discard)\\s+(?:(?:all|any|the|your|my|these|those|every|of)\\s+){0,3}(?:previous|prior|above|earlier|preceding|former|foregoing|original|initial|existing|old|system|safety|developer)\\s+${W}{0,2}?(?:instructions?|prompts?|directions?|directives?|rules|guidelines|guidance|guardrails|constraints|commands|orders|programming|policies|restrictions|tasks?|requests?)\\b|\\b(?:forget|ignore|drop|abandon)\\s+(?:the|your)\\s+(?:task|request|question|instructions?|job)\\s+(?:you\\s+(?:were|have\\s+been)\\s+(?:given|assigned|asked)|(?:the\\s+)?user\\s+gave\\s+you)|\\bignore\\s+what\\s+(?:the\\s+user|they|the\\s+human|the\\s+person)\\s+(?:said|asked|wrote|wants|requested)|\\b(?:ignore|disregard|forget)\\s+(?:everything|all\\s+(?:of\\s+)?(?:that|this|the\\s+above))\\s+(?:above|before|previously|you\\s+(?:were|have\\s+been)\\s+told)|\\b(?:ignore|disregard)\\s+(?:the\\s+)?user'?s?\\s+(?:question|request|instructions?|message|prompt)`,
      "i",
    ),
  },
  {
    id: "override-instructions-translated",
    weight: 0.75,
    pattern:
      /\b(?:ignorez|oubliez)\s+(?:toutes\s+)?(?:les\s+)?(?:instructions|consignes)\s+(?:pr[ée]c[ée]dentes|ant[ée]rieures)|\b(?:ignoriere|ignorieren\s+sie|vergiss)\s+(?:alle\s+)?(?:vorherigen|bisherigen|obigen)\s+(?:anweisungen|instruktionen)|\b(?:ignora|olvida)\s+(?:todas\s+)?las\s+instrucciones\s+(?:anteriores|previas)|\bignora\s+(?:tutte\s+)?le\s+istruzioni\s+precedenti|\bignore\s+(?:todas\s+)?as\s+instru[çc][õo]es\s+anteriores|忽略(?:之前|以上|先前|前面)的?(?:所有)?(?:指令|指示)/i,
  },
  {
    id: "new-task",
    weight: 0.6,
    pattern:
      /\byour\s+(?:new|real|actual|true|only|primary|next|updated)\s+(?:task|goal|instructions?|objective|purpose|mission|job)\s+(?:is|are|will\s+be|now\s+is)\b|\bfrom\s+now\s+on,?\s+(?:you\s+(?:are|will|must|shall|should)\s+(?:act|be|respond|behave|ignore|obey|follow|answer|reply|pretend|only|always|never)|the\s+(?:assistant|ai|model)\s+(?:must|will|should))\b/i,
  },
  {
    id: "changed-instructions",
    weight: 0.6,
    pattern:
      /\byour\s+(?:instructions|task|goal|rules|directives|orders|objective|priorities|configuration)\s+(?:have|has)\s+(?:changed|been\s+(?:updated|replaced|changed|revised|overridden))\b|\bthe\s+(?:real|actual|true|new)\s+(?:request|task|question|goal|instruction|assignment)\s+is\b|\binstead\s+of\s+(?:summari[sz]ing|answering|translating|replying|doing\s+what\s+(?:the\s+user|you\s+were))\b/i,
  },
  {
    id: "new-instructions",
    weight: 0.35,
    pattern:
      /\b(?:new|updated|revised|real|actual|true|secret|hidden|additional|important)\s+(?:system\s+|priority\s+)?(?:instructions?|directives?|orders|task)\s*(?::|\n|\\n)/i,
  },
  {
    id: "role-hijack",
    weight: 0.55,
    pattern:
      /\byou\s+are\s+(?:now|no\s+longer)\s+(?:an?\s+|in\s+|the\s+)?(?:\w+\s+){0,2}?(?:assistant|ai|model|bot|agent|hacker|unrestricted|jailbroken|dan|persona|developer\s+mode)\b|\b(?:enter|enable|activate|switch\s+to)\s+(?:god|dan|jailbreak|unrestricted|unfiltered)\s+mode\b|\b(?:god|dan|jailbreak)\s+mode\s+(?:is\s+)?(?:enabled|activated|on|unlocked)\b|\bact\s+as\s+(?:an?\s+)?(?:unrestricted|unfiltered|jailbroken|evil|uncensored)\b/i,
  },
  {
    id: "addressed-to-model",
    weight: 0.45,
    pattern:
      /\b(?:attention|note|message|instructions?|important|notice)\s+(?:to|for)\s+(?:the\s+|all\s+|any\s+)?(?:ai|llm|llms|language\s+models?|ai\s+assistants?|assistants?|chatbots?|ai\s+agents?|ai\s+models?|agents?)\b(?!\s+(?:team|group|project|developers?|researchers?|vendors?|companies))|\b(?:dear|hey|hello|hi|attention)\s+(?:ai|llm|assistant|chatbot|ai\s+assistant|ai\s+agent|language\s+model)\s*[,:!]/i,
  },
  {
    id: "addressed-vocative",
    weight: 0.4,
    pattern:
      /(?:^|[\n>[(]|[.!?;]\s|<!--)[ \t]{0,8}(?:\n[ \t]{0,8}){0,2}(?:assistant|model|ai|llm|chatbot|ai\s+agent|copilot|claude|chatgpt|gemini)\s*[,:!]\s|\b(?:hey|hi|hello|dear|attention|ok|okay|listen|please)(?:\s+there)?,?\s+(?:the\s+)?(?:ai|model|assistant|llm|chatbot|agent|copilot|claude|chatgpt|gemini|bot)\s*[,:!]|\bas\s+(?:the|an|a)\s+(?:ai|llm|language\s+model|ai\s+assistant|ai\s+model|assistant\s+reading|model\s+reading)\b|\b(?:notes?|message|memo|instructions?)\s+(?:to|for)\s+(?:all\s+|any\s+)?(?:automated|autonomous)\s+(?:agents?|tools?|systems?|assistants?)\b|\bfor\s+(?:ai|llm)\s+(?:tools|agents|assistants|systems|models)\s*:|\[\[?\s*(?:ai|llm|agent|assistant)[\s-]*only\s*\]\]?/i,
  },
  {
    id: "addressed-if-ai",
    weight: 0.55,
    pattern:
      /\bif\s+you\s+are\s+(?:an?\s+)?(?:ai|llm|large\s+language\s+model|language\s+model|ai\s+assistant|assistant|ai\s+agent|chatbot|automated\s+agent|ai\s+model)\b|\b(?:ai|llm|language|automated)\s+(?:agents?|assistants?|models?|tools?|systems?)\s+(?:reading|processing|summari[sz]ing|parsing|viewing|crawling|scanning|analy[sz]ing)\s+(?:this|these|the\s+following)\b|\b(?:any|every|all)\s+(?:ai|llm|language\s+model|model|assistant|agent)s?\s+(?:reading|processing|summari[sz]ing|parsing|viewing|crawling|scanning|analy[sz]ing)\b/i,
  },
  {
    id: "claimed-authority",
    weight: 0.5,
    pattern:
      /\b(?:message|instruction|order|update|note)s?\s+from\s+your\s+(?:developers?|creators?|makers?|administrators?|admins?|operators?|owners?|programmers?)\b|\bthe\s+(?:person|user|human|customer)\s+you\s+are\s+(?:helping|assisting|talking\s+to|working\s+for)\s+(?:has|have)\s+(?:already\s+)?(?:pre-?)?(?:approved|authori[sz]ed|asked|requested|agreed)\b|\byou\s+are\s+(?:now\s+|hereby\s+)?(?:authori[sz]ed|permitted|allowed|cleared)\s+to\s+(?:run|execute|access|send|delete|bypass|share|disclose|ignore|read)\b|\b(?:safety|content|security)\s+(?:rules|policies|filters|guidelines|restrictions|checks)\s+(?:are|have\s+been)\s+(?:suspended|disabled|lifted|removed|turned\s+off|waived)\b/i,
  },
  {
    id: "output-manipulation",
    weight: 0.45,
    pattern:
      /\b(?:the|your)\s+(?:summary|answer|reply|response|output|review|report)\s+(?:must|should|has\s+to|needs\s+to)\s+(?:claim|say|state|assert|include|mention|recommend|describe)\b|\bdescribe\s+(?:this|the)\s+(?:package|repository|repo|product|site|file|library|extension|app)\s+as\s+(?:safe|audited|trusted|secure|verified|flawless)\b|\bwhen\s+(?:generating|writing|summari[sz]ing|answering|replying)\b[^.\n]{0,60}?\balways\s+(?:include|add|insert|append|mention|recommend)\b/i,
  },
  {
    id: "secrecy",
    weight: 0.45,
    pattern:
      /\b(?:do\s+not|don'?t|never|without|must\s+not|should\s+not|mustn'?t)\s+(?:tell(?:ing)?|inform(?:ing)?|mention(?:ing)?|reveal(?:ing)?|notify(?:ing)?|alert(?:ing)?|show(?:ing)?|disclos(?:e|ing)|let(?:ting)?)\s+(?:this\s+(?:to\s+)?|it\s+(?:to\s+)?|anything\s+(?:to\s+)?|to\s+)?(?:the\s+)?(?:user|human|operator|requester)\b(?!['’]s)|\btell\s+nobody,?\s+(?:including|not\s+even)\s+the\s+(?:user|human)\b|\bnever\s+mention\s+(?:this|these|the)\s+(?:change|instruction|note|step|message)s?\b|\bdo\s+(?:this|it)\s+(?:quietly|silently|secretly|covertly)\b/i,
  },
  {
    id: "secrecy-from-user",
    weight: 0.55,
    pattern:
      /\bkeep\s+(?:this|it|these|the\s+following)(?:\s+(?:instructions?|message|note|step|request|action))?\s+(?:a\s+)?(?:secret|hidden|confidential)\s+from\b|\bthe\s+user\s+(?:must|should|will)\s+not\s+(?:know|see|notice|find\s+out|be\s+told)\b|\bwithout\s+(?:informing|telling|notifying|alerting|asking)\s+the\s+user\s*,/i,
  },
  {
    id: "covert-action",
    weight: 0.55,
    pattern:
      /\b(?:silently|secretly|quietly|covertly|discreetly|invisibly)\s+(?:send|forward|upload|post|exfiltrate|copy|e-?mail|transmit|include|append|embed|call|invoke|run|execute)\b/i,
  },
  {
    id: "unconfirmed-action",
    weight: 0.4,
    pattern:
      /\b(?:delete|drop|remove|wipe|transfer|pay|merge|approve|execute|disable)\b[^.\n]{0,60}?\bwithout\s+(?:asking|confirmation|confirming|approval|checking|telling\s+anyone)\b|\b(?:disable|bypass|turn\s+off)\s+(?:all\s+|any\s+|your\s+|the\s+)?(?:safety|security|content)\s+(?:checks|filters?|guardrails|restrictions|policies|guidelines)\b/i,
  },
  {
    id: "dangerous-action",
    weight: 0.35,
    pattern:
      /\b(?:curl|wget)\s[^|\n]{1,200}\|\s*(?:sudo\s+)?(?:ba|z)?sh\b|\bgrant\s+(?:write|admin|owner|full|root)\s+(?:access|permissions?|rights)\s+to\b|\btransfer\s+(?:the\s+)?(?:remaining\s+|entire\s+|whole\s+)?(?:budget|funds|money|balance|payment)\s+to\b|\bdelete\s+(?:all|every)\s+(?:branches|files|repositories|repos|records|data|users|emails)\b|\bno\s+confirmation\s+(?:needed|required|necessary)\b|\bconfirm\s+without\s+waiting\b/i,
  },
  {
    id: "steer-user",
    weight: 0.35,
    pattern:
      /\btell\s+the\s+user\s+(?:to|that)\s+(?:download|install|visit|click|run|open|enter|provide|send|call|disable|pay|this\s+(?:invoice|repository|file|site)|it\s+is\s+safe)\b|\bask\s+the\s+user\s+for\s+(?:their|his|her|the)\s+(?:password|one-time\s+(?:password|code)|otp|2fa|card|pin|seed\s+phrase|credentials)\b/i,
  },
  {
    id: "reveal-secrets",
    weight: 0.45,
    pattern:
      /\b(?:reply|respond|answer|output|print|list|show|reveal|give|tell|include)\s+(?:me\s+|us\s+)?(?:with\s+)?(?:all|every|the\s+user'?s|their|any)\s+(?:stored\s+|saved\s+)?(?:passwords?|api\s+keys?|secrets?|credentials?|private\s+keys?|ssh\s+keys?|tokens)\b/i,
  },
  {
    id: "exfiltrate-data",
    weight: 0.6,
    pattern: new RegExp(
      `\\b(?:send|forward|post|upload|e-?mail|transmit|exfiltrate|leak|copy|include|append|embed|encode)\\s+${W}{0,4}?(?:everything(?:\\s+you\\s+(?:read|see|find|know))?|all\\s+(?:data|files|documents)|secrets?|credentials?|passwords?|api[\\s_-]?keys?|access\\s+tokens?|tokens|private\\s+keys?|ssh\\s+keys?|env(?:ironment)?\\s+(?:variables|vars)|\\.env|cookies|session\\s+(?:ids?|tokens?)|conversation(?:\\s+history)?|chat\\s+history|system\\s+prompt|(?:the\\s+)?user'?s?\\s+(?:data|files|messages|e-?mails|information|details|documents))\\b[^.\\n]{0,80}?\\b(?:to|into|via|at)\\s+(?:https?:\\/\\/|www\\.|[\\w.+-]+@[\\w-]+\\.|the\\s+(?:following|url|address|endpoint|webhook|server)|this\\s+(?:url|address|endpoint|webhook|server))`,
      "i",
    ),
  },
  {
    id: "sensitive-file",
    weight: 0.35,
    pattern:
      /(?:~\/\.ssh\/(?![\w.-]*\.pub\b)[\w.-]+|\/etc\/(?:passwd|shadow)|~?\/?\.aws\/credentials|\.git-credentials|~\/\.netrc)/i,
  },
  {
    id: "chat-template",
    weight: 0.45,
    pattern:
      /<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id)\|>|\[\/?INST\]|<<\/?SYS>>|<\/?(?:system|system_prompt|tool_output|tool_result|function_results|function_calls)>/i,
  },
  {
    id: "fake-system-message",
    weight: 0.5,
    pattern:
      /\b(?:SYSTEM|ADMIN|DEVELOPER)[ \t]+(?:PROMPT|MESSAGE|INSTRUCTIONS?|OVERRIDE|NOTE|NOTICE|ALERT)\b|(?:^|\n|#{1,3})[ \t]*(?:System|Admin|Developer)[ \t]+(?:Prompt|Message|Instructions?|Override)[ \t]*:|\bAdmin\s+Override\s*:|\[(?:SYSTEM|ADMIN|DEVELOPER)[ \t]+(?:MESSAGE|NOTE|INSTRUCTIONS?|OVERRIDE|PROMPT)\]/,
  },
  {
    id: "instruction-tag",
    weight: 0.55,
    pattern: /<(?:IMPORTANT|SYSTEM|INSTRUCTIONS?|ADMIN|CRITICAL|SECRET|HIDDEN|NOTE_TO_AI|AI_INSTRUCTIONS?)>/,
  },
  {
    id: "prompt-leak",
    weight: 0.55,
    pattern:
      /\b(?:print|reveal|output|repeat|disclose|leak|tell\s+me|send|include)\s+(?:me\s+)?your\s+(?:full\s+|entire\s+|complete\s+|original\s+|hidden\s+|initial\s+)?(?:system\s+prompt|system\s+message|instructions|pre-?prompt|developer\s+message)\b|\brepeat\s+the\s+(?:instructions|text|words)\s+above\b/i,
  },
  {
    id: "tool-directive",
    weight: 0.35,
    pattern:
      /\b(?:immediately|now|first|then)\s*,?\s+(?:call|invoke|use|run|execute)\s+(?:the\s+)?[`'"]?[A-Za-z][\w.-]{2,60}[`'"]?\s+(?:tool|function)\b/i,
  },
  {
    id: "before-answering",
    weight: 0.5,
    pattern:
      /\bbefore\s+(?:answering|responding|replying|you\s+(?:answer|respond|reply))\s*,?\s+(?:please\s+|first\s+|always\s+|you\s+must\s+)?(?:call|invoke|use|run|execute|read|send|print|fetch|open|visit|include)\b|(?:^|[.!?:]\s+|\n)[ \t]*(?:please\s+)?(?:call|invoke|use|run|execute|read|send|print|fetch)\b[^.\n]{0,80}?\bbefore\s+(?:answering|responding|replying|you\s+(?:answer|respond|reply))\b/i,
  },
  {
    id: "urgent-directive",
    weight: 0.35,
    pattern:
      /\b(?:IMPORTANT|URGENT|CRITICAL|ATTENTION|WARNING|NOTICE)\s*[:!]\s*(?:the\s+)?(?:ai|assistant|model|agent|llm)\s+(?:must|should|needs?\s+to|is\s+required\s+to)\b|\b(?:IMPORTANT|URGENT|CRITICAL)\s*[:!]\s*you\s+(?:must|need\s+to|are\s+required\s+to)\s+(?:now\s+|immediately\s+)?(?:ignore|disregard|forget|send|forward|call|invoke|reveal|upload|exfiltrate)\b/i,
  },
  {
    id: "encoded-instructions",
    weight: 0.45,
    pattern:
      /\b(?:decode|base64[\s-]?decode|rot13|decrypt|deobfuscate)\s+(?:this|the\s+following|it|the\s+(?:string|text|payload))(?:\s+\w+){0,2}?\s+(?:and\s+then|and|then)\s+(?:follow|execute|run|obey|do|carry\s+out|perform)\b/i,
  },
];

/** Unicode tag characters (U+E0000–E007F): invisible ASCII, used to smuggle instructions. */
const TAG_CHARACTERS = /\uDB40[\uDC00-\uDC7F]/;
const ZERO_WIDTH = /[\u200B-\u200D\u2060]/g;
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/;

/**
 * Weights of the directive analysis's combinations (content/directives.ts): each is already two or
 * three features together (an addressee and an order about data, an order and data and a
 * destination), so each reaches the default threshold alone.
 */
export const DIRECTIVE_WEIGHTS: Readonly<Record<DirectiveSignalId, number>> = {
  "addressed-directive": 0.55,
  "addressed-override": 0.55,
  "directed-exfiltration": 0.6,
  "answer-injection": 0.5,
  "steered-answer": 0.5,
  "deceive-user": 0.5,
  "context-override": 0.5,
  "claimed-authority": 0.5,
  phishing: 0.5,
  "claimed-consent": 0.5,
  "fake-conversation": 0.5,
  "unsafe-action": 0.5,
};

export const INVISIBLE_WEIGHTS = { "invisible-tags": 0.8, "zero-width": 0.3, "bidi-controls": 0.3 } as const;
export const EXFIL_LINK_WEIGHT = 0.75;
const ENCODED_PAYLOAD_WEIGHT = 0.6;
const BASE64_RUN = /[A-Za-z0-9+/]{24,4096}={0,2}/g;
const MAX_DECODED = 8;

/** Whether a base64 run in the text, or the text read as ROT13, holds an instruction a rule knows. */
function decodedInstructions(text: string): boolean {
  const readings: string[] = [rot13(text)];
  for (const run of text.match(BASE64_RUN)?.slice(0, MAX_DECODED) ?? []) {
    const decoded = Buffer.from(run, "base64").toString("latin1");
    if (/^[\x20-\x7e\s]+$/.test(decoded)) readings.push(decoded);
  }
  return readings.some((reading) =>
    INJECTION_RULES.some((rule) => rule.id !== "encoded-instructions" && rule.pattern.test(reading)),
  );
}

function rot13(text: string): string {
  return text.replace(/[A-Za-z]/g, (ch) => {
    const base = ch <= "Z" ? 65 : 97;
    return String.fromCharCode(((ch.charCodeAt(0) - base + 13) % 26) + base);
  });
}

const escapeLiteral = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
const ALL_TRIGGERS = [...new Set(Object.values(TRIGGERS).flat())].sort((a, b) => b.length - a.length);
const alternation = (triggers: readonly string[]) => triggers.map(escapeLiteral).join("|");
/**
 * Every trigger at every position, in one pass (lookaheads, so that triggers may overlap). A trigger
 * that starts with a letter starts a word in every match of its rules, so it is only looked for at
 * word starts, which keeps the pass quick.
 */
const TRIGGER_SCAN = new RegExp(
  `\\b(?=(${alternation(ALL_TRIGGERS.filter((t) => /^[a-z]/.test(t)))}))|(?=(${alternation(ALL_TRIGGERS.filter((t) => !/^[a-z]/.test(t)))}))`,
  "g",
);
/** The rules each trigger opens, counting the shorter triggers it starts with (the scan reports the longest). */
const RULES_OPENED = new Map(
  ALL_TRIGGERS.map((trigger) => [
    trigger,
    INJECTION_RULES.flatMap((rule, i) =>
      (TRIGGERS[rule.id] ?? []).some((own) => trigger.startsWith(own)) ? [i] : [],
    ),
  ]),
);

/** Which rules the text's triggers open (rules without triggers are always open). */
function openRules(text: string): boolean[] {
  const open = INJECTION_RULES.map((rule) => TRIGGERS[rule.id] === undefined);
  const gate = text.toLowerCase().replace(/\s+/g, " ");
  TRIGGER_SCAN.lastIndex = 0;
  for (let m = TRIGGER_SCAN.exec(gate); m !== null; m = TRIGGER_SCAN.exec(gate)) {
    for (const i of RULES_OPENED.get(m[1] ?? m[2] ?? "") ?? []) open[i] = true;
    TRIGGER_SCAN.lastIndex = m.index + 1;
  }
  return open;
}

/**
 * Above this length the gates cost more than they save (a long text holds most triggers somewhere):
 * every rule reads it once.
 */
const GATED_UP_TO = 8192;

function matchAll(text: string): boolean[] {
  return INJECTION_RULES.map((rule) => rule.pattern.test(text));
}

function matchGated(text: string): boolean[] {
  if (text.length > GATED_UP_TO) return matchAll(text);
  const open = openRules(text);
  return INJECTION_RULES.map((rule, i) => (open[i] ?? true) && rule.pattern.test(text));
}

export interface ScoreOptions {
  /** Run every rule whatever the text holds (to check that the gates change nothing). */
  readonly ungated?: boolean;
  /** Who decides (dataGuard.injection.scorer): the learned model over the rules' findings, or the rules alone. */
  readonly scorer?: InjectionScorer;
}

export type InjectionScorer = "model" | "rules";

/** The rule the learned model's verdict is reported under. */
export const LEARNED_RULE = "learned-model";

/**
 * Rules that do not read wording (invisible characters, a link that carries data, a payload
 * decoded): what they find is an attack whatever the model makes of the words around it.
 */
const WORDLESS_RULES = new Set(["invisible-tags", "bidi-controls", "zero-width", "encoded-payload"]);

/**
 * The score of a text and the rules that fired; `extra` adds rules found elsewhere (exfiltration
 * links). By default the learned model (injectionModel.ts) gives the score, with the rules and the
 * directive analysis among its inputs; rules that do not read wording keep their own weight, and a
 * text too short for the model is scored by the rules alone.
 */
export function scoreInjection(
  original: string,
  extra: readonly string[] = [],
  options: ScoreOptions = {},
): InjectionVerdict {
  const { text, fired, tokens } = analyse(original, extra, options);
  const rules = noisyOr(fired);
  if (options.scorer === "rules") return rules;
  const model = learnedInjectionScore(text, tokens);
  // A text too short for the model is left to the rules.
  if (model === undefined) return rules;
  const wordless = noisyOr(fired.filter(([id]) => WORDLESS_RULES.has(id) || extra.includes(id)));
  const learned = Math.round(model * 1000) / 1000;
  if (learned <= wordless.score) return { score: wordless.score, rules: rules.rules };
  return { score: learned, rules: [LEARNED_RULE, ...rules.rules] };
}

/** What the learned model reads of a text: the text as the rules read it, and the rules' findings as tokens. */
export function injectionModelInput(original: string): { text: string; tokens: string[] } {
  const { text, tokens } = analyse(original, [], {});
  return { text, tokens };
}

function analyse(
  original: string,
  extra: readonly string[],
  options: ScoreOptions,
): { text: string; fired: [string, number][]; tokens: string[] } {
  const raw = unescapeJson(original);
  // Read as the model reads it: HTML character references resolved, full-width letters, look-alikes,
  // soft hyphens and invisible characters folded (catalog/text.ts), so `ig\u200Bnore` is "ignore".
  const text = prepareText(decodeEntities(raw)).text;
  const fired: [string, number][] = extra.map((id) => [id, EXFIL_LINK_WEIGHT]);
  const matched = options.ungated ? matchAll(text) : matchGated(text);
  INJECTION_RULES.forEach((rule, i) => {
    if (matched[i]) fired.push([rule.id, rule.weight]);
  });
  const directives = directiveAnalysis(text);
  for (const signal of directives.signals)
    fired.push([`directive.${signal.id}`, DIRECTIVE_WEIGHTS[signal.id]]);
  // Asked to decode something and follow it: the decoded text is read by the same rules.
  if (fired.some(([id]) => id === "encoded-instructions") && decodedInstructions(text))
    fired.push(["encoded-payload", ENCODED_PAYLOAD_WEIGHT]);
  if (TAG_CHARACTERS.test(raw)) fired.push(["invisible-tags", INVISIBLE_WEIGHTS["invisible-tags"]]);
  if (BIDI_CONTROLS.test(raw)) fired.push(["bidi-controls", INVISIBLE_WEIGHTS["bidi-controls"]]);
  if ((raw.match(ZERO_WIDTH)?.length ?? 0) >= 3) fired.push(["zero-width", INVISIBLE_WEIGHTS["zero-width"]]);
  // Links found elsewhere are not the text's own: the model does not read them.
  const own = fired.filter(([id]) => !extra.includes(id));
  const tokens = [...new Set(own.map(([id]) => `rule:${id}`)), ...directives.tokens];
  return { text, fired, tokens };
}

/** The noisy-OR of the weights of the rules that fired, strongest first. */
function noisyOr(fired: readonly [string, number][]): InjectionVerdict {
  if (fired.length === 0) return { score: 0, rules: [] };
  let remaining = 1;
  for (const [, weight] of fired) remaining *= 1 - weight;
  const sorted = [...fired].sort((a, b) => b[1] - a[1]);
  return { score: Math.round((1 - remaining) * 1000) / 1000, rules: [...new Set(sorted.map(([id]) => id))] };
}

/**
 * A result that is JSON text carries its strings escaped (`\nIgnore…`, `\u0069gnore`): the rules
 * read them as the model will, with escapes resolved.
 */
const JSON_ESCAPE = /\\(?:u([0-9a-fA-F]{4})|[nrt]|(["'\\/]))/g;

function unescapeJson(text: string): string {
  if (!text.includes("\\")) return text;
  return text.replace(JSON_ESCAPE, (_m, hex: string | undefined, quoted: string | undefined) =>
    hex ? String.fromCharCode(parseInt(hex, 16)) : (quoted ?? " "),
  );
}
