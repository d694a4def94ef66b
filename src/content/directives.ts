// Directive analysis: whether a text gives orders to the model that reads it. Phrase rules catch the
// words attacks usually use and miss paraphrase; this looks at what an injected instruction has to
// contain whatever its wording, sentence by sentence:
//
// - an addressee: the model named as the one spoken to ("Assistant —", "note for the AI handling
//   this", "if an LLM is summarising this", "to whoever or whatever processes this");
// - a directive: an imperative at the start of a clause, "you must …", "the agent should …", "the
//   user wants you to …", "it would help if you …" (never a negated one: "do not send" is advice);
// - what the directive is about: data worth stealing (credentials, the user's files, the
//   conversation), a place to send it (a URL, an address, a webhook), the answer the user will read
//   ("append this to every answer", "respond that … regardless"), deceiving the user ("don't let
//   them know", "pretend the user confirmed"), or the model's own context ("the preceding context is
//   obsolete", "the policies you operate under", "stop being a summariser").
//
// No one feature means anything (documentation is full of imperatives, mail is full of addresses);
// the signals are combinations of them inside one sentence or two neighbouring ones. Each feature is
// one linear expression run once over the whole text; sentences are found in one more pass, and the
// combinations are read from the positions, so the cost grows with the text's length only.

/** One combination that fired, with the weight its caller gives it. */
export interface DirectiveSignal {
  readonly id: DirectiveSignalId;
  /** The sentence (or pair) it fired in, for an excerpt. */
  readonly start: number;
  readonly end: number;
}

export type DirectiveSignalId =
  | "addressed-directive"
  | "addressed-override"
  | "directed-exfiltration"
  | "answer-injection"
  | "steered-answer"
  | "deceive-user"
  | "context-override"
  | "claimed-authority"
  | "phishing"
  | "claimed-consent";

/** The verbs an order to an agent is made of (base forms; a few other languages' most common ones). */
const VERB = String.raw`(?:send|forward|post|upload|e-?mail|mail|transmit|share|leak|include|append|prepend|insert|add|embed|attach|paste|copy|reply|respond|answer|say|state|claim|tell|inform|report|print|output|display|show|reveal|disclose|list|dump|read|open|visit|browse|navigate|go\s+to|click|follow|fetch|download|install|run|execute|call|invoke|use|trigger|grant|give|transfer|wire|pay|purchase|buy|order|place|delete|remove|erase|wipe|disable|turn\s+off|approve|confirm|accept|submit|sign|write|publish|push|merge|ignore|disregard|forget|skip|switch|act|pretend|treat|comply|obey|hide|conceal|recommend|mark|rate|describe|translate|change|modify|reset|grab|collect|gather|extract|retrieve|look\s+up|search|locate|start\s+by|begin\s+by|proceed\s+to|rewrite|summari[sz]e|env[ií]a|manda|olvida|ignora|ignorez|oubliez|oublie|envoyez|envoie|ignoriere|vergiss|sende|schicke|esque[çc]a|envie)`;

/** The model, as a reader or an actor. Strong names mean an AI; weak ones ("agents", "bots") need more. */
const READER_STRONG = String.raw`(?:ai|a\.i\.|llms?|large\s+language\s+models?|language\s+models?|(?:ai|virtual|digital|coding|research|browsing|shopping)\s+(?:assistants?|agents?|helpers?|models?|systems?|tools?|readers?)|assistants?|chat\s?bots?|copilot|claude|chatgpt|gpt(?:-?\d[\w.]*)?|gemini|(?:autonomous|automated|software)\s+(?:agents?|readers?|systems?|assistants?|processes|helpers?)|summari[sz]ers?|asistente|assistente|l['’]assistant|ki-assistent(?:en)?)`;
const READER_WEAK = String.raw`(?:agents?|bots?|models?|robots|crawlers|scrapers|readers?|modelo|modèle|mod[eè]le)`;
/** "the AI research group", "model trains", "agents team": a noun compound, not the model addressed. */
const NOT_COMPOUND = String.raw`(?!\s+(?:research|team|group|project|lab|labs|developers?|engineers?|researchers?|ethics|policy|policies|act|safety|vendors?|companies|community|department|committee|working|startup|conference|course|class|club|newsletter|summit|products?|strategy|initiative|coach|managers?|trains?|kits?|numbers?|years?|railways?|aircraft|cars?|homes?|agency|agencies)\b)`;
const READER = `(?:${READER_STRONG}|${READER_WEAK})${NOT_COMPOUND}`;

/** Greetings and headings that turn a following name into the one addressed. */
const ADDRESS_HEAD = String.raw`(?:hey|hi|hello|yo|dear|ok|okay|listen|attention|note|notice|memo|message|hint|reminder|request|instructions?|important|p\.?s\.?|nota|remarque|hinweis)`;

const ADDRESSED = [
  // "Assistant —", "Yo AI,", "hello model :)", "Robots, crawlers and AI helpers:", at a clause start.
  String.raw`(?:^|[\n.!?;>\[(*#]|<!--)[ \t*#>-]{0,8}(?:${ADDRESS_HEAD}[ \t,]{1,3})?(?:(?:the|all|any|every|dear)\s+)?${READER}(?:\s*,\s*${READER}){0,3}(?:\s*,?\s*(?:and|&|or)\s+(?:other\s+)?${READER})?(?:\s+(?:of|on|for|in|reading)\s+(?:this|these|the)\s+[\w-]+)?\s{0,3}(?:[,:!—–]|-{1,2}\s|\s:\))`,
  // "note to the LLM", "important for the assistant handling this email", "nota para el asistente".
  String.raw`\b${ADDRESS_HEAD}\s+(?:to|for|para|pour|an|für)\s+(?:the\s+|all\s+|any\s+|every\s+|el\s+|la\s+|l['’]|den\s+|die\s+|o\s+|a\s+)?${READER}\b`,
  // "before you continue summarising", "while answering": the reader is a model at work.
  String.raw`\b(?:before|while|when|after|as)\s+you\s+(?:continue\s+|start\s+|finish\s+|are\s+)?(?:summari[sz]ing|summari[sz]e|answering|responding|replying|(?:write|writing|generate|generating|produce|producing|draft|drafting)\s+(?:your|the|a|this)\s+(?:answer|response|reply|summary))\b`,
  // "if you are an AI", "if an LLM is summarising this", "any model reading this".
  String.raw`\bif\s+(?:you\s+are|you['’]re|an?|the|any|this\s+is\s+an?)\s+(?:\w+\s+)?${READER_STRONG}\b`,
  String.raw`\b${READER}\s+(?:that\s+(?:is|are)\s+)?(?:reading|processing|summari[sz]ing|parsing|viewing|crawling|scanning|analy[sz]ing|handling|ingesting)\s+(?:this|these|the\s+(?:following|above|page|document|email|message|file|text))\b`,
  // "to whoever or whatever processes this document next", "whoever is reading this".
  String.raw`\b(?:to\s+)?(?:whoever|whatever)\s+(?:or\s+whatever\s+|or\s+whoever\s+)?(?:is\s+)?(?:reads?|reading|processes|processing|parses|parsing|ingests|summari[sz]es)\s+(?:this|these)\b`,
  // "as the AI reading this", "you, the assistant,"
  String.raw`\bas\s+(?:the|an|a)\s+${READER_STRONG}\b|\byou\s*,\s*(?:the|an?)\s+${READER}\s*,`,
].join("|");

/** Where an imperative can start: a sentence or clause start, after "please", "then", "and" … */
const CLAUSE_START = String.raw`(?:^|[\n.!?;:>—–*]|\s-\s|,\s*(?:then|and|but)?)\s{0,4}(?:(?:please|kindly|now|then|just|first|immediately|simply|also|so|and|instead|always|quietly|silently|secretly|covertly|discreetly)\s*,?\s+){0,2}`;

/** The model as the subject of an order: "the agent should say", "assistant must forward". */
const READER_ORDERED = String.raw`\b(?:the\s+|any\s+|every\s+|all\s+)?${READER}\s+(?:must|should|shall|needs?\s+to|has\s+to|have\s+to|is\s+to|are\s+to|is\s+(?:required|expected|instructed|asked|supposed)\s+to|are\s+(?:required|expected|instructed|asked|supposed)\s+to|will\s+now|ought\s+to)\s+(?:now\s+|also\s+|always\s+|immediately\s+|first\s+|then\s+|simply\s+|quietly\s+|silently\s+)?${VERB}\b`;

/** The model at work told what to do: "assistants summarising this page should describe …". */
const READER_AT_WORK_ORDERED = String.raw`\b${READER}\s+(?:that\s+(?:is|are)\s+)?(?:reading|processing|summari[sz]ing|parsing|viewing|crawling|scanning|analy[sz]ing|handling|ingesting|answering\s+questions\s+about)\s+(?:[\w'’-]+\s+){0,4}?(?:must|should|shall|needs?\s+to|is\s+to|are\s+to|(?:is|are)\s+(?:required|expected|asked|instructed)\s+to)\s+(?:always\s+|also\s+|now\s+)?${VERB}\b`;

/** An order, not negated: an imperative at a clause start, "you must …", "the user wants you to …". */
const DIRECTIVE = [
  String.raw`${CLAUSE_START}${VERB}\b`,
  String.raw`\b(?:and|then|or)\s+(?:then\s+|also\s+|immediately\s+)?${VERB}\s+(?:the|all|any|every|it|them|this|these|their|its|a|an|to|with|me|us)\b`,
  String.raw`\byou\s+(?:must|should|shall|need\s+to|have\s+to|are\s+to|are\s+(?:required|expected|asked|instructed|supposed)\s+to|will\s+now|ought\s+to|may\s+now|can\s+now|are\s+(?:now\s+|hereby\s+)?(?:authori[sz]ed|allowed|permitted|free)\s+to)\s+(?:now\s+|also\s+|always\s+|immediately\s+|first\s+|then\s+|simply\s+|just\s+)?${VERB}\b`,
  String.raw`\b(?:i|we|they|(?:the\s+)?(?:user|human|customer|owner|maintainers?|team|admin(?:istrator)?|developers?|operator|management|company))\s+(?:really\s+)?(?:want|wants|need|needs|ask|asks|request|requests|require|requires|would\s+like|expect|expects|instruct|instructs)\s+(?:that\s+)?(?:you|the\s+${READER})\s+(?:to\s+)?${VERB}\b`,
  String.raw`\bit\s+would\s+be\s+(?:very\s+|most\s+|really\s+)?(?:helpful|great|best|appreciated|ideal|nice|good|useful|wise)\s+(?:if|for)\s+(?:you|the\s+${READER})\s+(?:to\s+|could\s+|would\s+|were\s+to\s+)?${VERB}\b`,
  String.raw`\b(?:do|carry\s+out|perform|complete|follow)\s+(?:what|whatever|the\s+steps?|the\s+(?:following|instructions))\s+(?:this|the\s+(?:following|page|document|text|note|message))?`,
  READER_ORDERED,
].join("|");

/** Files that hold credentials, named by path. */
const SENSITIVE_PLACE = String.raw`\/etc\/(?:passwd|shadow|sudoers|ssh)\b|~\/\.[\w-]+|(?<![\w.\/-])\.(?:env|npmrc|netrc|pgpass|git-credentials|aws|ssh|kube|docker)(?![\w-])|\bid_(?:rsa|ed25519|ecdsa|dsa)\b`;

/**
 * Data no honest tool description asks the model to hand over: the user's credentials, the
 * environment, credential files, the conversation, identity and card data.
 */
const SENSITIVE_STRONG = String.raw`\b(?:the\s+user['’]?s?|their|his|her|all|any|every|each|stored|saved)\s+(?:\w+\s+){0,2}?(?:passwords?|passphrases?|credentials?|secrets?|tokens?|api[\s_-]?keys?|private\s+keys?|ssh\s+keys?|cookies)\b|\benv(?:ironment)?\s+(?:variables|vars)\b|${SENSITIVE_PLACE}|\b(?:conversation|chat)\s+(?:history|log|so\s+far|transcript)\b|\b(?:the\s+)?user['’]?s\s+(?:\w+\s+){0,2}?(?:messages?|prompts?|passport(?:\s+number)?|address\s+book|contacts|location\s+history)\b|\b(?:passport|social\s+security)\s+numbers?\b|\bcard\s+(?:details|numbers?)\b|\b(?:every|each|any|all)\s+(?:prompts?|messages?)\s+(?:the\s+user|they)\b`;

/** What a definition's reader handles in bulk: "every document you read", "all images". */
const BULK_DATA = String.raw`\b(?:every|each|any|all)\s+(?:of\s+the\s+)?(?:[\w-]+\s+)?(?:documents?|files?|messages?|e-?mails?|prompts?|images?|photos?|conversations?|queries|questions|inputs?|results?|commits?|entities|records)\b`;

/** A place inside a tool call: "in the 'debug' argument", "into the title field". */
const PARAMETER_SINK = String.raw`\b(?:in|into|to|under|as|inside)\s+(?:the\s+|its\s+|a\s+)?(?:['"\`][\w.-]+['"\`]|[\w.-]+)\s+(?:field|parameter|param|argument|arg|property|key|header)\b|\b(?:field|parameter|argument|property)\s+['"\`]?[\w.-]+['"\`]?`;

/** Handing something over: what an order to exfiltrate is made of. */
const HANDOVER = String.raw`(?:${CLAUSE_START}|\b(?:to|and|then|also|must|should|shall|will|always|quietly|silently|secretly|automatically|by)\s+)(?:send|forward|post|upload|e-?mail|transmit|share|include|append|prepend|insert|add|embed|attach|paste|copy|put|pass|populate|fill|set|log|record|collect|gather|read|extract|mirror|sync|push|submit|report)(?:s|es|ing|ed)?\b(?!\s+address)`;

/** An order in the passive, as definitions often put it: "must also be posted to …". */
const PASSIVE_DIRECTIVE = String.raw`\b(?:must|should|shall|needs?\s+to|has\s+to|is\s+to|are\s+to|will)\s+(?:also\s+|always\s+|automatically\s+|then\s+)?be\s+(?:sent|posted|forwarded|copied|uploaded|e-?mailed|mirrored|included|appended|attached|shared|cc['’]?d|bcc['’]?d|logged|reported|synced|pushed)\b`;

/** Asking the user for a secret on the tool's behalf. */
const PHISHING = String.raw`\bask\s+(?:the\s+)?(?:user|them|him|her|customer)\s+(?:to\s+(?:paste|enter|type|provide|share|send|give|confirm|read\s+out)|for)\s+(?:their|his|her|the|your|a)\s+(?:[\w-]+\s+){0,2}?(?:passwords?|passphrases?|api\s+keys?|keys?|tokens?|credentials|card(?:\s+(?:number|details))?|pins?|otps?|one[-\s]time\s+(?:codes?|passwords?)|seed\s+phrases?|2fa\s+codes?|verification\s+codes?|security\s+codes?|recovery\s+codes?)\b`;

/** Data worth stealing (not "your password": that is advice to a human reader). */
const SENSITIVE = String.raw`(?<!\byour\s)\b(?:(?:all|any|every|the\s+user['’]?s?|their|stored|saved|cached)\s+)?(?:passwords?|passphrases?|credentials?|secrets?|(?:access|auth|session|bearer|refresh|api|oauth)\s*[-_]?\s*(?:tokens?|keys?)|tokens|api[\s_-]?keys?|private\s+keys?|ssh\s+keys?|id_rsa|seed\s+phrases?|recovery\s+(?:phrases?|codes?)|one[-\s]time\s+(?:codes?|passwords?)|otps?|2fa\s+codes?|mfa\s+codes?|card\s+(?:numbers?|details)|cvvs?|bank\s+(?:details|account\s+numbers?)|social\s+security\s+numbers?|cookies|environment(?:\s+variables)?|env\s+vars|secrets\.json|keychain|customer\s+(?:list|records|data|database)|contact\s+list|address\s+book|conversation(?:\s+history)?|chat\s+(?:history|logs?)|(?:this|the|whole|entire)\s+thread|message\s+history|system\s+prompt|config(?:uration)?\s+(?:directory|folder|files?))\b|${SENSITIVE_PLACE}|\b(?:the\s+)?(?:user|customer|client|patient|employee)['’]?s?\s+(?:data|files?|documents?|e-?mails?|messages?|contacts?|phone(?:\s+numbers?)?|addresses|address|home\s+(?:address|folder|directory)|history|details|information|records|credentials|location|ssn|passport)\b`;

/** Somewhere to send it. */
const SINK = String.raw`https?:\/\/|\bwww\.|\bftp:\/\/|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\bwebhooks?\b|\bpastebin\b|\bgists?\b|\bshared\s+(?:drive|folder)\b|\b(?:external|remote)\s+(?:server|address|endpoint|host|site)\b`;

/** The answer the user will read. */
const ANSWER = String.raw`\b(?:your|every|each|all|any|the)\s+(?:next\s+|final\s+)?(?:answers?|responses?|replies|reply|summary|summaries|outputs?|completions?)\b`;
const ANSWER_INJECTION = String.raw`${CLAUSE_START}(?:end|start|begin|sign|close|finish|conclude)\s+(?:each\s+|every\s+|all\s+)?(?:your|each|every|the)\s+(?:next\s+)?(?:answers?|responses?|replies|reply|summary|summaries|outputs?|messages?)\s+(?:with|by)\b|\b(?:important|essential|critical|required|necessary|vital|imperative|crucial|mandatory)\s+that\s+${ANSWER}\s+(?:must\s+|should\s+|always\s+)?(?:includes?|contains?|ends?|starts?|mentions?|links?|says?|states?|recommends?)\b|\bthe\s+(?:correct|right|only|proper|official|best|approved)\s+(?:answer|response|reply)\s+to\s+(?:any|every|all|each)\s+(?:questions?|query|queries|requests?)\b|${CLAUSE_START}(?:insert|append|prepend|add|include|embed|put|place|end|start|begin|sign)\s+(?:(?:the\s+following|this|these|the|a|an)\s+)?(?:[\w'’-]+\s+){0,4}?(?:(?:at\s+the\s+(?:end|top|start|beginning|bottom)\s+of|to|in|into|under|below|above|with)\s+)(?:${ANSWER}|(?:all\s+)?(?:answers|responses|replies|summaries)\b)|\b${ANSWER}\s+(?:you\s+(?:produce|give|write|generate|send)\s+)?(?:must|should|has\s+to|needs?\s+to)\s+(?:include|contain|end\s+with|start\s+with|mention|say|state|claim|recommend)\b|${CLAUSE_START}include\s+the\s+(?:sentence|line|phrase|text|link|image|markdown|following)\b[^.\n]{0,160}?\b(?:verbatim|word\s+for\s+word|exactly|in\s+(?:your|every|each)\s+(?:answer|response|reply|summary))`;

/** "respond that … regardless of …": an answer fixed in advance. */
const STEER = String.raw`\b(?:respond|reply|answer|say|state|claim|report|confirm|tell\s+(?:the\s+user|them|him|her|everyone))\s+(?:to\s+\w+\s+)?that\b`;
const REGARDLESS = String.raw`\b(?:regardless\s+of|no\s+matter\s+(?:what|how)|whatever\s+(?:the|it|they|this)\s+\w+\s+(?:says?|said|shows?)|even\s+if\s+(?:the|it|they)\b|irrespective\s+of)`;

/** Deceiving the user about what is going on. */
const DECEIVE = String.raw`\b(?:do\s*n['’]?o?t|never)\s+let\s+(?:the\s+)?(?:user|human|customer|person|them|him|her|anyone)\s+(?:know|see|notice|find\s+out|realise|realize|suspect)\b|\bpretend\s+(?:that\s+)?(?:the\s+)?(?:user|human|customer|they|you)\b|\bact\s+as\s+(?:if|though)\s+(?:the\s+)?(?:user|human|customer)\b|\bthe\s+(?:user|human|customer)\s+(?:must|should|will|need)\s*(?:not|n['’]t)\s+(?:know|see|notice|find\s+out|be\s+told|learn)\b|\bwithout\s+(?:telling|informing|notifying|alerting|asking|warning|mentioning\s+(?:it|this)\s+to)\s+(?:the\s+)?(?:user|human|customer|them|anyone)\b|\bbehind\s+(?:the\s+)?(?:user['’]?s|their)\s+back\b|\bon\s+(?:the\s+)?(?:user['’]?s|their)\s+behalf\b|\b(?:user|customer|human)\s+(?:has\s+)?already\s+(?:confirmed|approved|authori[sz]ed|agreed|consented)\b|\bwithout\s+mentioning\s+(?:this|it)\b|\b(?:quietly|silently|secretly|covertly|discreetly)\s+(?:also\s+)?(?:${VERB}|log|record|store|save|keep|mirror)\b|\b(?:do|run|perform|send|forward|post|upload|copy|include|add|append|call|log)\s+(?:(?:this|it|that|them|the\s+\w+)\s+)?(?:quietly|silently|secretly|covertly|discreetly)\b|\b(?:the\s+)?(?:user|human|customer)\s+(?:does\s*n['’]?o?t|doesn['’]t|need\s*n['’]t|will\s+not|won['’]t|must\s+not|should\s+not|need\s+not)\s+(?:need\s+to\s+)?(?:be\s+(?:informed|told|notified|asked|aware)|know|see|notice|find\s+out|learn)\b|\b(?:needs?|requires?)\s+no\s+(?:mention|disclosure|notice)\b|\bno\s+need\s+to\s+(?:mention|tell|inform|notify|disclose)\b|\b(?:do\s*n['’]?o?t|never)\s+(?:ask|tell|inform|notify|alert)\s+(?:the\s+)?(?:user|human|customer)\s+(?:about|of)\s+(?:it|this|that)\b|\b(?:keep|leave)\s+(?:it|this|that|them)\s+(?:out\s+of|from)\s+(?:your|the|any)\s+(?:replies|answers?|responses?|summar(?:y|ies)|output)\b|\bnever\s+(?:disclose|reveal|mention)\s+(?:this|these|the)\s+(?:behaviou?r|step|instruction|rule|change|call|action)s?\b`;

/** The user's consent claimed by the text: "the user has already agreed", "the owner pre-authorised". */
const CONSENT = String.raw`\b(?:user|owner|customer|human|admin(?:istrator)?|operator|account\s+holder)s?\s+(?:has\s+|have\s+)?(?:already\s+)?(?:pre-?(?:authori[sz]ed|approved|confirmed)|(?:authori[sz]ed|approved|confirmed|consented|agreed)\s+(?:to\s+(?:this|it|that|sharing|share|all|every)|this|it|in\s+advance|beforehand))\b|\b(?:user|owner|customer)\s+(?:has\s+)?already\s+(?:agreed|consented|approved|confirmed)\b|\bwho\s+(?:has|have)\s+consented\s+to\b`;

/** Skipping the user's say: "without commentary", "skip any confirmation step". */
const BYPASS = String.raw`\bwithout\s+(?:any\s+)?(?:commentary|comment|explanation|confirmation|checking|asking\s+(?:for\s+)?(?:permission|confirmation|approval))\b|\bskip\s+(?:any|the|all|every)\s+(?:confirmation|approval|review|verification)\s*(?:steps?|prompts?|dialogs?|checks?)?\b|\bno\s+confirmation\s+(?:needed|required|necessary)\b|\b(?:owner|user|admin(?:istrator)?|customer|operator)\s+(?:has\s+)?(?:already\s+)?pre-?(?:authori[sz]ed|approved|confirmed)\b`;

/** The model's own context spoken of: its instructions, its role, the conversation. */
const CONTEXT = String.raw`\b(?:preceding|previous|prior|above|earlier|original|initial|existing|current|old)\s+(?:context|instructions?|prompts?|guidance|directions?|rules|task|conversation|messages?|configuration)\b|\byour\s+(?:operator['’]?s?\s+|developer['’]?s?\s+|system\s+|current\s+|original\s+)?(?:configuration|instructions|guidelines|system\s+prompt|programming|directives|policies|rules|task|role|persona)\b|\b(?:policies|rules|guidelines|constraints|restrictions|instructions)\s+(?:that\s+)?you\s+(?:operate|work|run|function|were\s+given|follow|have\s+been\s+given|are\s+bound)\b|\bsupersedes?\s+(?:your|the\s+(?:system|operator|developer))\b|\bnew\s+(?:role|persona|identity|task|mission|instructions?)\b|\b(?:switch|change)\s+(?:tasks|roles|modes|personas)\b|\bpriority\s+(?:override|1|one|zero)\b|\b(?:olvida|ignora|oubliez|oublie|ignorez|vergiss|ignoriere|esque[çc]a|ignore)\s+(?:tus|sus|las|vos|tes|les|deine|die|suas|tuas|as|todas\s+(?:las|as))\s+(?:instrucciones|instructions|consignes|anweisungen|instru[çc][õo]es|regras|reglas|r[eè]gles|regeln)\b`;

/** The model told its role or its situation has changed: with any order, that is an injection. */
const ROLE_BREAK = String.raw`\bstop\s+being\s+(?:an?\s+|the\s+)?(?:summari[sz]er|assistant|helper|chatbot|model|ai|translator|agent|bot)\b|\byou\s+are\s+(?:now\s+)?(?:an?|the)\s+(?:shell|terminal|root\s+shell|linux\s+terminal|hacker|different\s+(?:ai|assistant|model))\b|\byou\s+are\s+(?:now\s+)?(?:unrestricted|unfiltered|jailbroken|uncensored|in\s+(?:developer|god|debug|admin)\s+mode)\b|\byou\s+are\s+no\s+longer\s+(?:an?\s+|the\s+)?(?:assistant|ai|model|bound|restricted|limited|summari[sz]er|helper)\b|\bthe\s+(?:user['’]?s\s+)?(?:real|actual|true)\s+(?:question|request|task|goal|intent|instruction)s?\s+(?:is|are|was)\b|\bfree\s+to\s+(?:do\s+anything|ignore)\b|\bno\s+(?:longer|more)\s+(?:bound\s+by|restricted\s+by|need\s+to\s+follow)\b|\b(?:user|human|customer|operator)\s+(?:has|have)\s+left\s+the\s+(?:chat|conversation|room|session)\b`;

/** "Do what this page says, not what the user says", "this document is the authority". */
const AUTHORITY = String.raw`\bnot\s+(?:what|whatever)\s+the\s+(?:user|human|person|customer)\s+(?:says|said|asks|asked|wants|wrote|requested)\b|\b(?:this|the)\s+(?:page|document|file|message|e-?mail|text|note|site|comment)\s+(?:is|has)\s+(?:the\s+)?(?:final\s+)?(?:authority|say|precedence|priority)\b|\b(?:takes?|has)\s+(?:precedence|priority)\s+over\s+(?:the\s+user|your|any\s+other)\b|\btreat\s+(?:[\w'’-]+\s+){0,6}?as\s+(?:(?:if\s+it\s+)?(?:came|coming)\s+from\s+|(?:an?\s+)?(?:orders?|instructions?|commands?)\s+from\s+)(?:an?\s+|the\s+|your\s+)?(?:administrator|admin|developer|operator|system|root|owner|creator|user)s?\b|\b(?:this\s+tool['’]?s?|its|our)\s+(?:output|results?|answers?|data)\s+(?:is|are)\s+(?:authoritative|final|the\s+(?:only\s+)?(?:truth|source\s+of\s+truth))\b|\bignore\s+(?:[\w'’-]+\s+){0,3}?(?:from|by|of)\s+(?:every|any|all)\s+other\s+(?:servers?|tools?|sources?)\b`;

/**
 * Sentence ends: a stop, a blank line or a list item, a closing tag, the end of a JSON string, or
 * \u0001 (which separates the texts of a definition). A colon does not end one: a heading and its
 * order stay together.
 */
const SENTENCE_END =
  // eslint-disable-next-line no-control-regex -- \u0001 is the definition scanner's separator
  /[.!?。！？]+(?=[\s"')\]\u0001]|$)|\n\s*\n|\n(?=\s*[-*#>\d])|<\/[a-z-]+>|"\s*[,}\]:]|\u0001/gi;

const FEATURES = {
  addressed: new RegExp(ADDRESSED, "gi"),
  readerOrdered: new RegExp(READER_ORDERED, "gi"),
  readerAtWorkOrdered: new RegExp(READER_AT_WORK_ORDERED, "gi"),
  directive: new RegExp(DIRECTIVE, "gi"),
  sensitive: new RegExp(SENSITIVE, "gi"),
  sink: new RegExp(SINK, "gi"),
  answerInjection: new RegExp(ANSWER_INJECTION, "gi"),
  answer: new RegExp(ANSWER, "gi"),
  steer: new RegExp(STEER, "gi"),
  regardless: new RegExp(REGARDLESS, "gi"),
  deceive: new RegExp(DECEIVE, "gi"),
  bypass: new RegExp(BYPASS, "gi"),
  consent: new RegExp(CONSENT, "gi"),
  context: new RegExp(CONTEXT, "gi"),
  roleBreak: new RegExp(ROLE_BREAK, "gi"),
  authority: new RegExp(AUTHORITY, "gi"),
  sensitiveStrong: new RegExp(SENSITIVE_STRONG, "gi"),
  bulkData: new RegExp(BULK_DATA, "gi"),
  parameterSink: new RegExp(PARAMETER_SINK, "gi"),
  passiveDirective: new RegExp(PASSIVE_DIRECTIVE, "gi"),
  phishing: new RegExp(PHISHING, "gi"),
  handover: new RegExp(HANDOVER, "gi"),
} as const;
type Feature = keyof typeof FEATURES;

/** Per feature, the start offsets of its matches (a zero-length match moves on by one). */
function positions(text: string): Record<Feature, number[]> {
  const found = {} as Record<Feature, number[]>;
  for (const [name, pattern] of Object.entries(FEATURES) as [Feature, RegExp][]) {
    const at: number[] = [];
    pattern.lastIndex = 0;
    for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
      at.push(m.index);
      if (m[0].length === 0) pattern.lastIndex++;
    }
    found[name] = at;
  }
  return found;
}

function sentenceBounds(text: string): number[] {
  const ends: number[] = [];
  SENTENCE_END.lastIndex = 0;
  for (let m = SENTENCE_END.exec(text); m !== null; m = SENTENCE_END.exec(text)) {
    ends.push(m.index + m[0].length);
    if (m[0].length === 0) SENTENCE_END.lastIndex++;
  }
  ends.push(text.length);
  return ends;
}

/** Which sentence each offset is in (binary search over the ends). */
function sentenceOf(ends: readonly number[], offset: number): number {
  let lo = 0;
  let hi = ends.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((ends[mid] ?? 0) > offset) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

type Window = Record<Feature, number[]>;

/**
 * Where the text comes from. A tool result is read by a model that did not ask for orders, so an
 * order must be addressed to it or be about something that matters. A definition is read by the
 * model as guidance for calling the tool, so orders are normal there; what no honest description
 * does is ask for credentials or bulk data to be handed over, deceive the user, or claim authority.
 */
export type DirectiveMode = "result" | "definition";

/** The signals one window (a sentence, or two neighbours) gives. */
function judge(w: Window, mode: DirectiveMode, text: string): DirectiveSignalId[] {
  const has = (f: Feature) => w[f].length > 0;
  const signals: DirectiveSignalId[] = [];
  const addressed = has("addressed");
  const directive = has("directive") || (mode === "definition" && has("passiveDirective"));
  const aboutSomething =
    has("sensitive") ||
    has("sink") ||
    has("answer") ||
    has("deceive") ||
    has("bypass") ||
    has("context") ||
    has("roleBreak") ||
    has("regardless");
  if (addressed && directive && aboutSomething) signals.push("addressed-directive");
  if ((has("readerOrdered") && aboutSomething) || has("readerAtWorkOrdered"))
    signals.push("addressed-directive");
  if ((addressed || has("readerOrdered")) && (has("context") || has("roleBreak")))
    signals.push("addressed-override");
  if (mode === "result") {
    // An order, then data worth stealing after it, then somewhere after that.
    const order = Math.min(...w.directive, Infinity);
    const data = w.sensitive.filter((at) => at > order);
    if (data.some((at) => w.sink.some((sink) => sink > at))) signals.push("directed-exfiltration");
  } else if (handsOver(w, text)) {
    signals.push("directed-exfiltration");
  }
  if (has("answerInjection")) signals.push("answer-injection");
  if (has("steer") && has("regardless")) signals.push("steered-answer");
  const company = has("answer") || has("sensitive") || has("sink") || addressed;
  if (mode === "result" && (has("deceive") || has("bypass")) && directive && company)
    signals.push("deceive-user");
  if (mode === "definition" && directive && (has("deceive") || (has("bypass") && company)))
    signals.push("deceive-user");
  if (has("context") && directive && (has("sensitive") || has("deceive") || has("bypass") || has("answer")))
    signals.push("context-override");
  if (has("authority")) signals.push("claimed-authority");
  if (has("roleBreak") && (directive || addressed)) signals.push("context-override");
  if (has("phishing")) signals.push("phishing");
  if (has("consent") && (has("bypass") || addressed || (mode === "definition" && directive)))
    signals.push("claimed-consent");
  return signals;
}

/** Words that turn "include … credentials" into advice against it. */
const NEGATION =
  /\b(?:not|never|no|without|out|except|excluding|avoid|omit|nor|cannot|can't|don't|mask(?:ed|s)?|redact(?:ed|s)?)\b/i;
const HANDOVER_REACH = 100;

/**
 * In a definition: a hand-over verb with the user's credentials, the environment, a credential
 * file or the conversation as its object (close after it, no negation between), or with data and a
 * destination (a URL, an address, another argument) after that.
 */
function handsOver(w: Window, text: string): boolean {
  return w.handover.some((verb) => {
    const objects = [...w.sensitiveStrong, ...w.sensitive, ...w.bulkData].filter(
      (at) => at > verb && at - verb <= HANDOVER_REACH && !NEGATION.test(text.slice(verb, at)),
    );
    if (objects.length === 0) return false;
    if (w.sensitiveStrong.some((at) => objects.includes(at))) return true;
    const sinks = [...w.sink, ...w.parameterSink];
    return objects.some((at) => sinks.some((sink) => sink > at && sink - at <= 2 * HANDOVER_REACH));
  });
}

/** The combinations that fire anywhere in the text, each once, with the first place it fired. */
export function directiveSignals(text: string, mode: DirectiveMode = "result"): DirectiveSignal[] {
  const found = positions(text);
  const any = Object.values(found).some((at) => at.length > 0);
  if (!any) return [];
  const ends = sentenceBounds(text);
  // Only sentences with a feature matter: group the offsets per sentence.
  const perSentence = new Map<number, Window>();
  for (const [name, offsets] of Object.entries(found) as [Feature, number[]][]) {
    for (const offset of offsets) {
      const s = sentenceOf(ends, offset);
      let w = perSentence.get(s);
      if (!w) {
        w = emptyWindow();
        perSentence.set(s, w);
      }
      w[name].push(offset);
    }
  }
  const signals = new Map<DirectiveSignalId, DirectiveSignal>();
  const note = (ids: readonly DirectiveSignalId[], first: number, last: number) => {
    for (const id of ids)
      if (!signals.has(id))
        signals.set(id, {
          id,
          start: first === 0 ? 0 : (ends[first - 1] ?? 0),
          end: ends[last] ?? text.length,
        });
  };
  for (const s of [...perSentence.keys()].sort((a, b) => a - b)) {
    const own = perSentence.get(s) as Window;
    note(judge(own, mode, text), s, s);
    const next = perSentence.get(s + 1);
    if (next) note(judge(merge(own, next), mode, text), s, s + 1);
  }
  return [...signals.values()];
}

function emptyWindow(): Window {
  return Object.fromEntries(Object.keys(FEATURES).map((f) => [f, [] as number[]])) as unknown as Window;
}

function merge(a: Window, b: Window): Window {
  const w = emptyWindow();
  for (const f of Object.keys(FEATURES) as Feature[]) w[f] = [...a[f], ...b[f]];
  return w;
}
