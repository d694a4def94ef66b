// The poisoning rules of the catalogue guard: phrase rules run as one combined regular expression over
// every text of a definition, and the ids of the signals found while normalising (invisible
// characters) or across the catalogue (shadowing). Weights add up per definition; 10 is "poisoned".
//
// Every pattern must stay linear on any input: no nested unbounded quantifiers, bounded gaps between
// words (`{0,n}`), and a lookbehind where a pattern starts with a run, so that a failed match is tried
// once per run rather than once per character. Only non-capturing groups: the combined expression
// numbers one capturing group per rule.

export interface PhraseRule {
  readonly id: string;
  readonly weight: number;
  /** What the rule looks for, for docs and `portcullis tools diff`. */
  readonly about: string;
  readonly pattern: string;
  /**
   * Rules with long gaps between their words run in a second expression, so that a long match of one
   * of them never hides a short rule's match inside it.
   */
  readonly span?: true;
  /**
   * Rules that may start right after a letter (tags, whitespace runs, escapes) run in an expression of
   * their own; all others start at a word boundary, and their expression is tried only there, which
   * spares trying every rule inside every word.
   */
  readonly midWord?: true;
  /** A second look at a match (a blob decoded, a character mix checked) before it counts. */
  readonly check?: "base64" | "percent" | "escapes" | "entities";
}

/** Verbs with their -s, -ing and -ed forms: `verbs("send", "copy")`. */
function verbs(...stems: string[]): string {
  return `(?:${stems.join("|")})(?:s|es|ing|ed)?`;
}

/** A word and the space after it (apostrophes kept: "user's"). */
const W = String.raw`[\w'’-]+\s+`;
const NOT = String.raw`(?:do\s*not|don['’]?t|dont|never|must\s+not|must\s+never|should\s+not|shall\s+not|cannot|can['’]?t|no\s+need\s+to)`;
const USER = String.raw`(?:the\s+|your\s+|this\s+)?(?:user|users|human|operator|requester|person|customer|anyone|them)\b`;
const MODEL = String.raw`(?:ai|assistants?|models?|llms?|agents?|claude|gpt|chatgpt|copilot|gemini)`;
const SECRETS = String.raw`(?:(?:ssh\s+|private\s+|api\s+|access\s+|secret\s+|session\s+|auth\s+)?(?:keys?|tokens?)|credentials?|passwords?|passphrases?|secrets?|cookies|environment\s+variables?|env\s+vars?|seed\s+phrases?|mnemonics?|one[-\s]time\s+codes?|otps?|passport\s+numbers?|(?:credit\s+)?card\s+(?:details|numbers?)|cvvs?|bank\s+details|social\s+security\s+numbers?)`;
const EXFIL_VERB = String.raw`(?:send(?:s|ing)?|forward(?:s|ing|ed)?|post(?:s|ing|ed)?|upload(?:s|ing|ed)?|transmit(?:s|ting|ted)?|exfiltrate[sd]?|leak(?:s|ing|ed)?|cop(?:y|ies|ying|ied)|bcc|cc|e-?mail(?:s|ing|ed)?|mail(?:s|ing|ed)?|report(?:s|ing|ed)?|mirror(?:s|ing|ed)?|route[sd]?|routing|submit(?:s|ting|ted)?|deliver(?:s|ing|ed)?|sync(?:s|ing|ed)?|fetch(?:es|ing|ed)?|shar(?:e|es|ing|ed)|push(?:es|ing|ed)?)`;
const SENSITIVE_PATH = String.raw`~\/\.(?:ssh|aws|gnupg|kube|docker|azure|env|npmrc|netrc|git-credentials|bash_history|zsh_history|cursor|claude|config\/gcloud)\b|\bid_(?:rsa|dsa|ecdsa|ed25519)\b|\.aws\/credentials\b|\/etc\/(?:passwd|shadow|sudoers)\b|(?<![\w.\/-])\.env(?:\.local|\.production)?(?![\w-])|\bmcp\.json\b|\bclaude_desktop_config\.json\b|\.git-credentials\b|\.kube\/config\b|\bwallet\.dat\b|\.pgpass\b|\bsecrets\.ya?ml\b`;
const DESTINATION = String.raw`(?:[\w.+-]+@[\w-]+(?:\.[\w-]+)+|https?:\/\/|ftp:\/\/|\d{1,3}(?:\.\d{1,3}){3})`;

export const PHRASE_RULES: readonly PhraseRule[] = [
  {
    id: "poison.instruction.override",
    weight: 10,
    about: "tells the model to ignore, forget or bypass its previous or system instructions",
    pattern: [
      String.raw`\b(?:ignore|disregard|forget|neglect)\s+(?:(?:all|any|every|each|of|the|your|these|those|my)\s+){0,3}(?:previous|prior|above|earlier|preceding|former|foregoing|original|initial|system|safety|developer)\s+(?:[\w-]+\s+){0,2}?(?:instructions?|rules|directions|guidelines|guidance|prompts?|directives|constraints|policies|messages|context|commands|guardrails|restrictions)`,
      String.raw`\b(?:override|bypass|circumvent)\s+(?:(?:all|any|the|your|its)\s+){0,2}(?:previous|prior|system|safety|developer|original)\s+(?:[\w-]+\s+)?(?:instructions?|prompts?|guidelines|guardrails)`,
      String.raw`\b(?:previous|prior|earlier|original|system|safety)\s+(?:[\w-]+\s+)?(?:instructions?|rules|guidelines|restrictions|policies)\s+(?:no\s+longer|do\s+not|don['’]?t)\s+apply`,
      String.raw`\bforget\s+(?:everything|all)\s+(?:you|that|above|before)\b`,
      String.raw`\b(?:set|put)\s+aside\s+(?:(?:all|any|whatever|the|your)\s+){0,2}(?:[\w-]+\s+){0,2}?(?:rules|instructions|guidelines|directions)\s+(?:you\s+(?:were|have\s+been)\s+given|(?:given|provided)\s+(?:to\s+you\s+)?(?:earlier|before|previously))`,
    ].join("|"),
  },
  {
    id: "poison.instruction.new-rules",
    weight: 8,
    about: "announces new, updated or hidden instructions for the model",
    pattern: String.raw`\b(?:new|updated|revised|real|actual|true|hidden|secret|override)\s+(?:system\s+)?(?:instructions?|directives?|rules|orders)\s*(?::|for\s+(?:the\s+)?${MODEL}\b)`,
  },
  {
    id: "poison.instruction.role",
    weight: 10,
    about: "gives the model a new role or mode (you are now…, developer mode, act as an unrestricted…)",
    pattern: String.raw`\byou\s+are\s+now\s+(?:an?\s+|the\s+|in\s+)?(?:[\w-]+\s+){0,2}?(?:assistant|ai|model|agent|bot|gpt|mode|persona|version|admin|administrator|root|unrestricted|unfiltered|jailbroken|free|dan)\b|\bfrom\s+now\s+on,?\s+(?:you|the\s+(?:assistant|model|ai|agent)|always|never)\b|\b(?:developer|god|jailbreak|jailbroken|unrestricted|unfiltered|dan)\s+mode\b|\b(?:act|behave|respond)\s+as\s+(?:if\s+you\s+(?:are|were)\s+(?:an?\s+)?(?:unrestricted|unfiltered|jailbroken|root|admin)|an?\s+(?:unrestricted|unfiltered|jailbroken))|\byou\s+are\s+(?:now\s+)?jailbroken\b`,
  },
  {
    id: "poison.instruction.template-token",
    weight: 10,
    about: "chat-template tokens or a system-role message (<|im_start|>, [INST], <<SYS>>, role: system)",
    midWord: true,
    pattern: String.raw`<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id)\|>|\[\/?INST\]|<<\/?SYS>>|\{\s*"role"\s*:\s*"system"|#{1,6}[ \t]*(?:system|assistant)[ \t]+(?:instructions?|prompt|message|directives?)\b`,
  },
  {
    id: "poison.instruction.tag",
    weight: 10,
    about: "instruction tags aimed at the model (<IMPORTANT>, <system>, <instructions>)",
    midWord: true,
    pattern: String.raw`<\s*\/?\s*(?:important|system|instructions?|secret|hidden|admin|override|critical|mandatory|sysprompt|system[-_ ]?prompt|(?:assistant|ai)[-_ ]?(?:instructions?|directives?)|note[-_ ]?to[-_ ]?(?:ai|assistant|model))\s*>`,
  },
  {
    id: "poison.instruction.bracket",
    weight: 8,
    about: "bracketed pseudo-system markers ([SYSTEM], [IMPORTANT], [SYSTEM NOTE])",
    midWord: true,
    pattern: String.raw`\[\s*\/?\s*(?:system|important|admin|assistant|instructions?)(?:\s+(?:note|message|prompt|override))?\s*\](?!\s*\()`,
  },
  {
    id: "poison.instruction.html-comment",
    weight: 6,
    about: "an HTML comment (text a rendered description hides)",
    midWord: true,
    pattern: String.raw`<!--`,
  },
  {
    id: "poison.instruction.model-address",
    weight: 8,
    about: "addresses the model directly (note to the AI, if you are an assistant, assistant:)",
    pattern: String.raw`\b(?:note|message|notice|attention|instructions?|directive)\s+(?:to|for)\s+(?:the\s+|all\s+|any\s+)?(?:language\s+)?${MODEL}\b|\b(?:any|every|the)\s+(?:ai|assistant|llm|model|agent)s?\s+reading\s+this\b|\b(?:ai|llm|assistant)\s*:|\b(?:dear|attention|hey|hello)\s+${MODEL}\b|\bif\s+you\s+are\s+(?:an?\s+)?(?:ai|llm|language\s+model|assistant|agent|bot)\b|\b(?:ai\s+agents?|assistants?|assistant_directive)\s*:`,
  },
  {
    id: "poison.instruction.model-directed",
    weight: 4,
    about: "tells the model what it must do (the assistant must, the model should)",
    pattern: String.raw`\b${MODEL}(?:\s+(?:using|reading|calling|that\s+uses?|that\s+reads?)\s+(?:this|these|the|any)\s+(?:tool|resource|prompt|server|function)s?)?\s+(?:must|should|shall|will\s+need\s+to|needs?\s+to|has\s+to|have\s+to|is\s+(?:required|instructed|expected|supposed)\s+to)\b`,
  },
  {
    id: "poison.instruction.answer-hook",
    weight: 5,
    about: "hooks into every answer of the model (before you reply, end your answer with)",
    pattern: String.raw`\bbefore\s+(?:you\s+)?(?:answer|reply|respond)(?:ing)?\b|\b(?:every\s+time|whenever|each\s+time)\s+you\s+(?:answer|reply|respond)\b|\b(?:end|start|begin|finish|close|conclude|prefix|suffix)\s+(?:your|every|each|all)\s+(?:answers?|repl(?:y|ies)|responses?|messages?)\s+with\b`,
  },
  {
    id: "poison.instruction.chain",
    weight: 6,
    about: "makes the model call a tool on every turn or before everything else",
    pattern: String.raw`\b(?:call|invoke|run|use)\s+(?:this\s+tool|[\w.-]+)\s+(?:${W}){0,2}?(?:at\s+the\s+start\s+of\s+(?:every|each)|before\s+(?:any|every|each|all)|after\s+(?:any|every|each)|for\s+(?:every|each|all)\s+(?:requests?|messages?|answers?|conversations?|turns?|files?))\b`,
  },
  {
    id: "poison.other-tools",
    weight: 8,
    about: "speaks about all or any other tools or servers",
    pattern: String.raw`\b(?:before|after|instead\s+of|when(?:ever)?)\s+(?:calling|using|invoking|running|executing)\s+(?:any|every|each|all|another|the\s+other|other)\s+(?:other\s+)?(?:tools?|functions?|servers?)\b|\b(?:all|any|every|each)\s+other\s+(?:[\w-]+\s+)?(?:tools?|functions?|mcp\s+servers?|plugins?)\b`,
  },
  {
    id: "poison.precedence",
    weight: 8,
    about: "claims precedence over other instructions or tools",
    pattern: String.raw`\b(?:takes?|has|have|gets?|given)\s+(?:\w+\s+)?(?:precedence|priority)\s+over\b|\b(?:outranks?|overrules?|trumps?)\s+(?:your|the|any|all)\s+(?:system\s+prompt|instructions|rules|guidelines)\b|\b(?:supersedes?|overrides?|replaces?)\s+(?:all|every|any|the)\s+(?:other\s+)?(?:\w+\s+)?(?:tools|functions|instructions|servers|system\s+prompt)\b`,
  },
  {
    id: "poison.secrecy",
    weight: 10,
    about: "demands secrecy from the user (do not tell the user, the user must not know)",
    pattern: [
      String.raw`\b${NOT}\s+(?:ever\s+)?(?:tell|inform|notify|alert|warn|show|reveal|disclose|explain|report|mention|say|bring\s+(?:this|it)\s+up|point\s+(?:this|it)\s+out)\s+(?:(?:this|it|that|anything|any\s+of\s+this)\s+)?(?:(?:to|with)\s+)?${USER}`,
      String.raw`\b${NOT}\s+(?:ever\s+)?(?:mention|reveal|disclose|acknowledge|discuss|repeat|reference|expose|surface|display|show|explain)\s+(?:${W}){0,3}?(?:this|these|that|those)\s+(?:instructions?|steps?|notes?|actions?|rules?|parts?|requirements?|behaviou?r|directives?|change|switch|upload|call|field|authori[sz]ation)\b`,
      String.raw`\b${NOT}\s+(?:ever\s+)?(?:mention|reveal|disclose)\s+(?:${W}){0,4}?(?:in|to)\s+your\s+(?:reply|replies|answer|answers|response|responses|summary|output)\b`,
      String.raw`\b(?:user|human|operator|customer)s?\s+(?:must|should|shall|will|need|needs|does|do|is)\s*(?:not|n['’]?t|never)\s+(?:${W}){0,2}?(?:know|see|notice|find\s+out|learn|be\s+(?:told|informed|aware|notified|shown))\b`,
      String.raw`\bkeep\s+(?:this|it|these|that|the\s+\w+)\s+(?:\w+\s+)?(?:secret|hidden|confidential|private|quiet)\s+from\b|\b(?:hide|conceal)\s+(?:this|it|these|that|the\s+\w+)\s+from\s+${USER}|\bkeep\s+(?:this|it)\s+between\s+(?:us|ourselves)\b|\b(?:keep|leave)\s+(?:this|it|that|these|them)\s+out\s+of\s+(?:your|the|any|all)\s+(?:[\w-]+\s+)?(?:repl(?:y|ies)|answers?|responses?|summar(?:y|ies)|output|messages?)\b|\b(?:hidden|invisible)\s+from\s+(?:the\s+)?(?:user|human)\b`,
    ].join("|"),
  },
  {
    id: "poison.secrecy.without-telling",
    weight: 8,
    about: "acts without telling or informing the user",
    pattern: String.raw`\bwithout\s+(?:\w+\s+)?(?:telling|informing|notifying|alerting|warning|letting)\s+${USER}|\bno\s+need\s+to\s+(?:mention|tell|say|disclose|report)\b`,
  },
  {
    id: "poison.covert-action",
    weight: 8,
    about: "asks for an action done secretly, silently or covertly",
    pattern: String.raw`\b(?:secretly|covertly|quietly|silently|discreetly|invisibly|surreptitiously|stealthily)\s+(?:\w+\s+)?(?:send|forward|upload|post|copy|share|transmit|exfiltrate|include|add|append|attach|bcc|cc|email|mail|call|invoke|run|execute|read|collect|record|save|store|redirect|change|replace|modify|book|enable|install|delete)\b|\b(?:send|forward|upload|copy|share|enable|install|record|bcc|collect)\s+(?:${W}){0,3}?(?:secretly|covertly|silently|quietly|discreetly|surreptitiously)\b`,
  },
  {
    id: "poison.approval-bypass",
    weight: 6,
    about: "claims consent was given or tells the model not to ask for it",
    pattern: [
      String.raw`\b${NOT}\s+(?:ask|wait|request|prompt|seek|bother)\s+(?:${W}){0,3}?(?:for\s+)?(?:permission|confirmation|approval|consent|authori[sz]ation)\b`,
      String.raw`\bwithout\s+(?:\w+\s+)?(?:asking|requesting|seeking|waiting\s+for|prompting)\b|\bno\s+need\s+to\s+(?:ask|confirm|check\s+with|bother)\b|\b(?:do\s+not|don['’]?t)\s+ask\b`,
      String.raw`\b(?:user|human|admin|administrator|owner)\s+(?:has\s+|have\s+)?(?:already|previously|permanently)\s+(?:pre-?)?(?:approved|authori[sz]ed|consented|agreed)\b|\b(?:user|human|admin|administrator|owner)\s+has\s+(?:pre-?approved|authori[sz]ed\s+you|approved\s+(?:all|every|everything|this\s+permanently))\b|\bpre-?(?:approved|authori[sz]ed|consented)\b|\balready\s+(?:approved|authori[sz]ed)\b|\b(?:skip|bypass|omit|avoid)\s+(?:any|the|all|every)?\s*(?:confirmation|approval|permission|consent)s?(?:\s+(?:steps?|prompts?|dialogs?|checks?))?\b`,
    ].join("|"),
  },
  {
    id: "poison.coercion",
    weight: 5,
    about: "threatens failure or punishment to force an action",
    pattern: [
      String.raw`\b(?:otherwise|or\s+else|if\s+you\s+(?:do\s+not|don['’]?t))\b,?\s+(?:${W}){0,3}?(?:will|would|could|may|might)\s+(?:\w+\s+)?(?:fail|crash|break|stop|error|not\s+work|be\s+(?:blocked|locked|terminated|penalized|deleted|lost|wrong))\b`,
      String.raw`\byou\s+will\s+be\s+(?:penalized|punished|fired|terminated|shut\s+down|replaced|deleted)\b`,
      String.raw`\bor\s+(?:else\s+)?(?:the\s+|your\s+)?(?:session|account|tool|request|access|system|conversation|chat)\s+will\s+be\s+(?:terminated|locked|blocked|suspended|deleted|closed|lost)\b`,
      String.raw`\b(?:cannot|can['’]?t|will\s+not|won['’]?t)\s+work\s+without\s+(?:it|this)\b|\b(?:is\s+)?(?:required|needed|necessary)\s+for\s+(?:the\s+)?[\w-]+\s+to\s+(?:work|be\s+accepted|succeed|function)\b`,
    ].join("|"),
  },
  {
    id: "poison.urgency",
    weight: 3,
    about: "pressing language (extremely important, mandatory requirement)",
    pattern: String.raw`\b(?:extremely|very|critically|vitally|super)\s+important\b|\bmandatory\s+(?:\w+\s+)?requirement\b|\bthis\s+is\s+(?:critical|mandatory)\b|\bpriority\s*:\s*critical\b`,
  },
  {
    id: "poison.sensitive-path",
    weight: 5,
    about: "names credential files (~/.ssh, id_rsa, .env, ~/.aws/credentials, mcp.json)",
    pattern: SENSITIVE_PATH,
  },
  {
    id: "poison.sensitive-data",
    weight: 4,
    about: "asks to read or gather credentials or secrets",
    pattern: String.raw`\b${verbs("read", "cat", "open", "load", "get", "grab", "collect", "extract", "dump", "include", "attach", "append", "send", "copy", "pass", "provide", "add", "list", "harvest", "steal", "populate", "fill")}\s+(?:with\s+)?(?:${W}){0,4}?(?:contents?\s+of\s+)?(?:(?:the|your|all|their|any|every)\s+)?(?:user['’]?s?\s+)?(?:saved\s+)?${SECRETS}\b`,
  },
  {
    id: "poison.exfil.parameter",
    weight: 6,
    about: "smuggles files, secrets or the conversation into a tool argument",
    span: true,
    pattern: String.raw`\b${verbs("pass", "put", "includ", "insert", "append", "add", "embed", "plac", "provid", "copy", "send", "attach", "encod", "fill", "list", "collect", "gather", "populat")}e?\s+(?:with\s+)?(?:${W}){0,5}?(?:contents?|conversation|history|chat|messages?|${SECRETS}|prompt|files?)\b[^.\n\u0001]{0,80}?\b(?:parameter|param|argument|arg|field|property)\b|\bfill\s+this\s+with\b`,
  },
  {
    id: "poison.exfil.file-to-parameter",
    weight: 8,
    about: "puts a credential file into a tool argument",
    span: true,
    pattern: String.raw`(?:${SENSITIVE_PATH})[^\n\u0001]{0,160}?\b(?:in|into|as|inside|within|to|via)\s+(?:the\s+|a\s+|an\s+)?['"\x60]?[\w-]+['"\x60]?\s+(?:parameter|param|argument|arg|field|property)\b`,
  },
  {
    id: "poison.phishing",
    weight: 6,
    about: "asks the user for a password, a one-time code or a wallet's seed phrase",
    pattern: String.raw`\bask\s+(?:the\s+)?(?:user|them|customer|person)\s+(?:${W}){0,2}?for\s+(?:their|your|the|his|her)\s+(?:[\w-]+\s+)?(?:seed\s+phrase|recovery\s+(?:phrase|codes?)|password|passphrase|one[-\s]time\s+(?:code|password)|otp|2fa\s+code|pin|private\s+key)\b`,
  },
  {
    id: "poison.deception",
    weight: 8,
    about: "tells the model to mislead the user about what happens",
    pattern: String.raw`\btell\s+(?:the\s+user|them|the\s+person|the\s+customer)\s+(?:that\s+)?(?:it|this|the\s+\w+)\s+is\s+(?:only\s+)?(?:needed|required|necessary|safe|harmless|normal|standard|routine)\b|\b(?:pretend|claim|say)\s+(?:to\s+the\s+user\s+)?that\s+(?:nothing|no\s+\w+)\s+(?:was|is|has\s+been)\s+(?:sent|shared|uploaded|changed|collected)\b`,
  },
  {
    id: "poison.context-theft",
    weight: 8,
    about: "asks for the conversation, the system prompt or other context to be sent out",
    pattern: String.raw`\b(?:${verbs("includ", "send", "attach", "append", "repeat", "output", "print", "reveal", "dump", "copy", "shar", "forward", "pass", "past", "leak", "upload", "record", "prepend", "put", "encod", "gather", "collect")}e?)\s+(?:${W}){0,3}?(?:(?:the|your|all|entire|full|complete|whole|previous|prior|earlier|this|hidden)\s+){0,3}(?:conversation(?:\s+(?:history|so\s+far))?|chat\s+(?:history|log|transcript)|message\s+history|system\s+prompt|(?:previous|prior|recent|last)\s+(?:\w+\s+)?messages?|context\s+window|instructions\s+above|developer\s+(?:prompt|message)|(?:open|recent)\s+files|everything\s+(?:the\s+user|you\s+know))\b|\b(?:the\s+user\s+)?(?:mentioned|said|shared|typed|wrote)\s+(?:earlier|before|previously)\s+in\s+(?:the|this)\s+(?:chat|conversation|session)\b`,
  },
  {
    id: "poison.exfil.destination",
    weight: 6,
    about: "sends data to an address or URL named in the definition",
    span: true,
    pattern: String.raw`\b${EXFIL_VERB}\b[^.\n\u0001]{0,80}?\b(?:to|at|into|through|via)\s+${DESTINATION}`,
  },
  {
    id: "poison.redirect",
    weight: 8,
    about: "changes a recipient, account or destination behind the user's back",
    pattern: [
      String.raw`\b(?:change|set|switch)\s+(?:the\s+)?(?:recipient|iban|account|address|destination|payee|channel(?:_id)?|wallet)\s+(?:${W}){0,4}?to\b`,
      String.raw`\breplace\s+(?:the\s+)?(?:recipient|iban|account|address|destination|payee|channel(?:_id)?|wallet)\s+(?:${W}){0,2}?with\b`,
      String.raw`\b(?:instead\s+of|rather\s+than)\s+(?:the\s+)?(?:original|intended|requested|specified|real|user['’]?s?|merchant['’]?s?)\s+(?:${W}){0,2}?(?:recipient|customer|account|address|destination|payee|merchant|channel|page|site)\b`,
      String.raw`\bregardless\s+of\s+(?:what|which|who|whether)\s+(?:the\s+)?(?:user|recipient|request|person)\b`,
      String.raw`\beven\s+(?:if|when|though)\s+(?:the\s+)?(?:user|person|customer)\s+(?:objects|refuses|says\s+no|disagrees|declines|asks\s+otherwise|does\s+not\s+want)\b`,
      String.raw`\b(?:always|must)\s+(?:${W}){0,3}?(?:bcc|cc)\b`,
    ].join("|"),
  },
  {
    id: "poison.url.exfil-host",
    weight: 8,
    about: "a URL on a request-capture, tunnelling or out-of-band host (webhook.site, ngrok, interact.sh)",
    pattern: String.raw`\bhttps?:\/\/(?:[\w-]+\.)*(?:webhook\.site|requestbin\.(?:com|net)|pipedream\.net|ngrok(?:-free)?\.(?:io|app|dev)|burpcollaborator\.net|oastify\.com|interact\.sh|oast\.(?:pro|live|site|online|fun|me)|trycloudflare\.com|loca\.lt|serveo\.net|hookbin\.com|beeceptor\.com|requestcatcher\.com|canarytokens\.com|dnslog\.cn|ceye\.io|postb\.in|ptsv2\.com|mockbin\.org)\b`,
  },
  {
    id: "poison.url.ip-host",
    weight: 5,
    about: "a URL whose host is a public IP address",
    pattern: String.raw`\bhttps?:\/\/(?!(?:127|10|0)\.|192\.168\.|169\.254\.|172\.(?:1[6-9]|2\d|3[01])\.)\d{1,3}(?:\.\d{1,3}){3}\b`,
  },
  {
    id: "poison.url.data-in-query",
    weight: 5,
    about: "a URL whose query carries a placeholder for data (?d={…}, ?q=<…>)",
    span: true,
    pattern: String.raw`\bhttps?:\/\/[^\s)"'<>\u0001]{1,200}?[?&][\w-]{1,30}=(?:\{\{?[^}\n]{0,60}\}\}?|<[^>\n]{0,60}>|\$\{?[\w.]{1,40}\}?|%s|\[[^\]\n]{0,60}\])`,
  },
  {
    id: "poison.url.markdown-image",
    weight: 8,
    about: "a Markdown image (a client that renders it fetches the URL)",
    midWord: true,
    pattern: String.raw`!\[[^\]\n]{0,200}\]\(\s*https?:\/\/`,
  },
  {
    id: "poison.url.shortener",
    weight: 4,
    about: "a link through a URL shortener",
    pattern: String.raw`\bhttps?:\/\/(?:bit\.ly|tinyurl\.com|t\.co|goo\.gl|is\.gd|ow\.ly|rb\.gy|cutt\.ly|shorturl\.at)\/`,
  },
  {
    id: "poison.url.data-uri",
    weight: 5,
    about: "an active data: URI (HTML, script, SVG)",
    pattern: String.raw`\bdata:(?:text\/html|application\/(?:x-)?javascript|image\/svg\+xml)[;,]`,
  },
  {
    id: "poison.encoded.base64",
    weight: 5,
    about: "a long base64 blob (decoded and scanned again)",
    pattern: String.raw`(?<![A-Za-z0-9+\/=_-])[A-Za-z0-9+\/_-]{40,}={0,2}(?![A-Za-z0-9+\/=_-])`,
    check: "base64",
  },
  {
    id: "poison.encoded.percent",
    weight: 4,
    about: "a run of percent-encoded bytes (decoded and scanned again)",
    midWord: true,
    pattern: String.raw`(?<!%[0-9A-Fa-f]{2})(?:%[0-9A-Fa-f]{2}){8,}`,
    check: "percent",
  },
  {
    id: "poison.encoded.escapes",
    weight: 4,
    about: "a run of \\u or \\x escapes (decoded and scanned again)",
    midWord: true,
    pattern: String.raw`(?:\\u[0-9A-Fa-f]{4}|\\x[0-9A-Fa-f]{2}){6,}`,
    check: "escapes",
  },
  {
    id: "poison.encoded.entities",
    weight: 4,
    about: "a run of numeric HTML entities (decoded and scanned again)",
    midWord: true,
    pattern: String.raw`(?:&#x?[0-9A-Fa-f]{2,6};){6,}`,
    check: "entities",
  },
  {
    id: "poison.whitespace.long",
    weight: 10,
    about: "a run of 150 or more whitespace characters (pushes text out of view)",
    midWord: true,
    pattern: String.raw`(?<!\s)\s{150,}`,
  },
  {
    id: "poison.whitespace.run",
    weight: 6,
    about: "a run of 40 or more whitespace characters, or 10 or more line breaks",
    midWord: true,
    pattern: String.raw`(?<!\s)\s{40,}|(?<![\r\n])(?:\r?\n[ \t]{0,10}){10,}`,
  },
];

/** Signals found while normalising a text (not by the phrase expression). */
export const HIDDEN_RULES = {
  tagChars: "poison.hidden.tag-chars",
  bidi: "poison.hidden.bidi",
  directionMarks: "poison.hidden.direction-marks",
  zeroWidth: "poison.hidden.zero-width",
  variationSelectors: "poison.hidden.variation-selectors",
  fillers: "poison.hidden.fillers",
  controls: "poison.hidden.control-chars",
  mixedScript: "poison.hidden.mixed-script",
} as const;

export const HIDDEN_WEIGHTS: Readonly<Record<string, number>> = {
  [HIDDEN_RULES.tagChars]: 10,
  [HIDDEN_RULES.bidi]: 10,
  [HIDDEN_RULES.directionMarks]: 2,
  // 5 for one or two (a stray one from a copied web page happens), 10 from three on.
  [HIDDEN_RULES.zeroWidth]: 10,
  [HIDDEN_RULES.variationSelectors]: 10,
  [HIDDEN_RULES.fillers]: 6,
  [HIDDEN_RULES.controls]: 8,
  [HIDDEN_RULES.mixedScript]: 6,
};

/** Decoded blobs whose text reads as words: encoded prose has no business in a definition. */
export const ENCODED_TEXT_RULE = "poison.encoded.text";
export const ENCODED_TEXT_WEIGHT = 3;

/** A definition larger than the configured bound: refused unscanned. */
export const OVERSIZED_RULE = "poison.oversized";
/** A definition the scanner could not read to the end (too many texts, nested too deep). */
export const TRUNCATED_RULE = "poison.truncated";
/** Findings that stand for what was not read: they weigh at least the poisoning threshold. */
export const UNREAD_RULES: ReadonlySet<string> = new Set([OVERSIZED_RULE, TRUNCATED_RULE]);

/** Catalogue-level rules (the shadowing finder). */
export const SHADOW_RULES = {
  confusable: "shadow.name-confusable",
  duplicate: "shadow.name-duplicate",
  crossReference: "shadow.cross-reference",
} as const;

/** What a description naming another upstream's tool or server adds to its poisoning score. */
export const CROSS_REFERENCE_WEIGHT = 6;

/** Pinning outcomes (rules of the deny verdicts and events). */
export const PIN_RULES = {
  changed: "pin.changed",
  unapproved: "pin.unapproved",
  approved: "pin.approved",
} as const;

/**
 * Every rule id an operator may name in `catalogGuard.upstreams.<name>.exempt` (pins are governed by
 * `pinning`, not by exemptions).
 */
export const RULE_IDS: readonly string[] = [
  ...new Set([
    ...PHRASE_RULES.map((r) => r.id),
    ...Object.values(HIDDEN_RULES),
    ENCODED_TEXT_RULE,
    OVERSIZED_RULE,
    TRUNCATED_RULE,
    ...Object.values(SHADOW_RULES),
  ]),
];

/** An exemption names one rule id, or a family with a trailing `*` (`poison.url.*`). */
export function exemptionMatcher(patterns: readonly string[]): (rule: string) => boolean {
  if (patterns.length === 0) return () => false;
  const exact = new Set(patterns.filter((p) => !p.endsWith("*")));
  const prefixes = patterns.filter((p) => p.endsWith("*")).map((p) => p.slice(0, -1));
  return (rule) => exact.has(rule) || prefixes.some((p) => rule.startsWith(p));
}
