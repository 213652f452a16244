/*!
 * Tsunagi chat widget: one <script> tag puts a support chat on any shop page.
 *
 *   <script src="https://support.example/widget.js" data-server="https://support.example"
 *           data-lang="ja" data-color="#2f6f5e" data-title="こもれびストア" defer></script>
 *
 * data-server      the handoff service (default: where this script came from)
 * data-lang        ja | en: the UI text and the conversation's language (default: the page's)
 * data-color       brand colour, #rgb or #rrggbb (launcher, header, customer bubbles)
 * data-text-color  text on the brand colour (default white)
 * data-title       header title; data-welcome: the first line shown before anyone writes
 * data-position    right (default) | left
 * data-open        "true" opens the chat when the page loads
 * A signed-in customer (docs/identity.md): the shop's server signs the customer id, and the page
 * passes it either on the tag (data-customer-id, data-customer-name, data-customer-email,
 * data-customer-hash) or, before this script runs, as
 *   window.TsunagiSettings = {customer: {id: "c-1001", name: "...", email: "...", hash: "<hex>"}}
 * hash = hex HMAC-SHA256(IDENTITY_SECRET, id). The service ignores an identity whose hash does not
 * match (the chat stays anonymous); the agent then sees who the customer is and their history.
 * The shop's origin must be listed in the service's CORS_ORIGINS. A shop page with its own
 * Content-Security-Policy allows the service in script-src and connect-src; no 'unsafe-inline' is
 * needed (the styles are a constructed stylesheet). window.TsunagiWidget.open() opens it from the
 * shop's own links or buttons, and so does a click on any element marked data-tsunagi-open.
 *
 * Plain ES2019, no build step, no third-party code. Everything lives in a shadow root so the
 * shop's CSS cannot reach it, and every piece of user, bot or agent text is set with textContent.
 */
(function () {
  "use strict";

  var script = document.currentScript ||
    document.querySelector("script[src*='widget.js'][data-server], script[src*='widget.js']");
  if (!script || window.TsunagiWidget) return;

  var STRINGS = {
    ja: {
      open: "チャットで問い合わせる",
      close: "チャットを閉じる",
      title: "サポート",
      subtitleBot: "AIアシスタントが24時間お答えします",
      subtitleWaiting: "担当者を呼んでいます",
      subtitleAgent: "担当：{name}",
      subtitleEnded: "チャットは終了しました",
      subtitleOffline: "営業時間外です",
      subtitleNobody: "ただいま対応できる担当者がいません",
      placeholder: "メッセージを入力…",
      inputLabel: "メッセージ",
      send: "送信",
      log: "会話の履歴",
      welcome: "こんにちは！こちらはサポートチャットです。送料・お届け・返品・お支払いなど、お気軽にご質問ください。",
      talkToHuman: "担当者と話す",
      end: "チャットを終了",
      botTyping: "アシスタントが入力中",
      agentTyping: "{name}が入力中",
      queue: "担当者におつなぎしています：あと{n}人、約{m}分",
      queueNext: "担当者におつなぎしています：まもなくおつなぎします",
      queueAhead: "担当者におつなぎしています：あと{n}人",
      queueUnknown: "担当者におつなぎしています…",
      you: "あなた",
      bot: "アシスタント",
      agent: "担当者",
      offlineTitle: "ただいま営業時間外です",
      nobodyTitle: "ただいま対応できる担当者がいません",
      nobodyBody: "メッセージを残していただければ、担当者が戻りしだいこのチャットでお返事します。",
      nobodyThanks: "メッセージを受け付けました。担当者が戻りしだい、このチャットでお返事します。このページに戻ると返信をご覧いただけます。",
      nobodyBodyEmail: "メッセージとメールアドレスを残していただければ、担当者が戻りしだいメールとこのチャットでお返事します。",
      nobodyThanksEmail: "メッセージを受け付けました。担当者が戻りしだい、ご入力のメールアドレスとこのチャットでお返事します。",
      offlineBody: "メッセージを残していただければ、営業時間になりしだい担当者がこのチャットでお返事します。",
      // When the service sends e-mail (the conversation's email_replies), the reply also goes there.
      offlineBodyEmail: "メッセージとメールアドレスを残していただければ、営業時間になりしだい担当者がメールとこのチャットでお返事します。",
      email: "メールアドレス",
      message: "お問い合わせ内容",
      emailInvalid: "メールアドレスを正しく入力してください",
      messageMissing: "お問い合わせ内容を入力してください",
      submit: "送信する",
      offlineThanks: "メッセージを受け付けました。営業時間になりしだい、担当者がこのチャットでお返事します。このページに戻ると返信をご覧いただけます。",
      offlineThanksEmail: "メッセージを受け付けました。営業時間になりしだい、担当者がご入力のメールアドレスとこのチャットでお返事します。",
      ratingTitle: "ご利用ありがとうございました",
      ratingIntro: "よろしければ今回のサポートを評価してください。",
      csatLabel: "満足度",
      star: "{n}つ星",
      cesLabel: "解決までの手間はいかがでしたか？",
      ces: ["とても大変", "大変", "ふつう", "簡単", "とても簡単"],
      comment: "ご意見・ご感想（任意）",
      npsLabel: "このお店を友人や知人にすすめる可能性はどのくらいありますか？",
      npsLow: "まったくすすめない",
      npsHigh: "ぜひすすめたい",
      npsWhy: "その理由をお聞かせください（任意）",
      rate: "評価を送信",
      skip: "評価せずに終了",
      thanks: "ご評価ありがとうございました。またのご利用をお待ちしております。",
      endedThanks: "チャットを終了しました。ご利用ありがとうございました。",
      newChat: "新しいチャットを始める",
      reconnecting: "接続が切れました。再接続しています…",
      sendError: "送信できませんでした。",
      retry: "再送する",
      unread: "新着メッセージ{n}件",
      poweredBy: "Powered by Tsunagi",
      confirmEnd: "チャットを終了しますか？",
      confirmYes: "終了する",
      confirmNo: "続ける",
      readArticle: "詳しくはヘルプ記事へ",
      helpSearchLabel: "ヘルプセンターを検索",
      helpSearchPlaceholder: "例：送料、届かない",
      helpSearch: "検索",
      helpResults: "ヘルプ記事",
      helpNoResult: "ぴったりの記事が見つかりませんでした。",
      helpError: "検索できませんでした。",
      askUs: "チャットで質問する"
    },
    en: {
      open: "Chat with us",
      close: "Close chat",
      title: "Support",
      subtitleBot: "Our assistant answers 24/7",
      subtitleWaiting: "Finding a person for you",
      subtitleAgent: "With {name}",
      subtitleEnded: "This chat has ended",
      subtitleOffline: "We are closed right now",
      subtitleNobody: "Nobody is available right now",
      placeholder: "Type a message…",
      inputLabel: "Message",
      send: "Send",
      log: "Conversation",
      welcome: "Hi! This is the support chat. Ask us about shipping, delivery, returns, payment or anything else.",
      talkToHuman: "Talk to a person",
      end: "End chat",
      botTyping: "The assistant is typing",
      agentTyping: "{name} is typing",
      queue: "Connecting you to a person: {n} ahead of you, about {m} {minutes}",
      queueNext: "Connecting you to a person: you are next",
      queueAhead: "Connecting you to a person: {n} ahead of you",
      queueUnknown: "Connecting you to a person…",
      you: "You",
      bot: "Assistant",
      agent: "Agent",
      offlineTitle: "We are closed right now",
      nobodyTitle: "Nobody is available right now",
      nobodyBody: "Leave us a message and a member of our team will reply here in this chat as soon as one is back.",
      nobodyThanks: "Thank you, we have your message. A member of our team will reply here in this chat as soon as one is back; come back to this page to read it.",
      nobodyBodyEmail: "Leave us a message and your e-mail address, and a member of our team will reply by e-mail and here in this chat as soon as one is back.",
      nobodyThanksEmail: "Thank you, we have your message. A member of our team will reply to the e-mail address you gave, and here in this chat, as soon as one is back.",
      offlineBody: "Leave us a message and a member of our team will reply here in this chat when support opens.",
      offlineBodyEmail: "Leave us a message and your e-mail address, and a member of our team will reply by e-mail and here in this chat when support opens.",
      email: "E-mail address",
      message: "Your message",
      emailInvalid: "Please enter a valid e-mail address",
      messageMissing: "Please write your message",
      submit: "Send message",
      offlineThanks: "Thank you, we have your message. A member of our team will reply here in this chat when support opens; come back to this page to read it.",
      offlineThanksEmail: "Thank you, we have your message. A member of our team will reply to the e-mail address you gave, and here in this chat, when support opens.",
      ratingTitle: "Thanks for chatting with us",
      ratingIntro: "Would you rate this conversation?",
      csatLabel: "How satisfied are you?",
      star: "{n} star",
      stars: "{n} stars",
      cesLabel: "How easy was it to get help?",
      ces: ["Very hard", "Hard", "Neither", "Easy", "Very easy"],
      comment: "Comment (optional)",
      npsLabel: "How likely are you to recommend us to a friend?",
      npsLow: "Not at all likely",
      npsHigh: "Extremely likely",
      npsWhy: "Why? (optional)",
      rate: "Send rating",
      skip: "End without rating",
      thanks: "Thank you for your feedback!",
      endedThanks: "The chat has ended. Thank you!",
      newChat: "Start a new chat",
      reconnecting: "Connection lost. Reconnecting…",
      sendError: "Your message could not be sent.",
      retry: "Retry",
      unread: "{n} new messages",
      poweredBy: "Powered by Tsunagi",
      confirmEnd: "End this chat?",
      confirmYes: "End chat",
      confirmNo: "Keep chatting",
      readArticle: "Read the full article",
      helpSearchLabel: "Search the help center",
      helpSearchPlaceholder: "e.g. shipping fee, parcel not arrived",
      helpSearch: "Search",
      helpResults: "Help articles",
      helpNoResult: "We found no article that fits.",
      helpError: "The search did not work.",
      askUs: "Ask us in the chat"
    }
  };

  function fmt(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (_, key) {
      return values && values[key] !== undefined ? String(values[key]) : "";
    });
  }

  function pickLanguage(value) {
    var lang = String(value || "").toLowerCase().slice(0, 2);
    return STRINGS[lang] ? lang : null;
  }

  function validColor(value) {
    return /^#[0-9a-f]{3,8}$/i.test(value || "") ? value : null;
  }

  // The brand colour at `share` strength over white: backgrounds of agent bubbles and focus rings.
  function tint(hex, share) {
    var h6 = hex.length <= 5 ? hex.replace(/^#(.)(.)(.).*$/, "#$1$1$2$2$3$3") : hex;
    var rgb = [1, 3, 5].map(function (i) { return parseInt(h6.substr(i, 2), 16); });
    return "rgb(" + rgb.map(function (c) { return Math.round(255 - (255 - c) * share); }).join(",") + ")";
  }

  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    return "m" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
  }

  // Builds an element. Attributes are set with setAttribute; text only ever goes in through
  // textContent, so no customer, bot or agent text is parsed as HTML.
  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value === null || value === undefined || value === false) return;
        if (key === "text") el.textContent = value;
        else if (key === "class") el.className = value;
        else if (key.slice(0, 2) === "on" && typeof value === "function") el.addEventListener(key.slice(2), value);
        else el.setAttribute(key, value === true ? "" : value);
      });
    }
    (children || []).forEach(function (child) {
      if (child) el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return el;
  }

  function svg(path, size) {
    var ns = "http://www.w3.org/2000/svg";
    var el = document.createElementNS(ns, "svg");
    el.setAttribute("viewBox", "0 0 24 24");
    el.setAttribute("width", size || 24);
    el.setAttribute("height", size || 24);
    el.setAttribute("aria-hidden", "true");
    el.setAttribute("focusable", "false");
    var p = document.createElementNS(ns, "path");
    p.setAttribute("d", path);
    p.setAttribute("fill", "currentColor");
    el.appendChild(p);
    return el;
  }

  var ICON_CHAT = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8.4l-3.7 3.2A1 1 0 0 1 3 20.4V6a2 2 0 0 1 1-2zm3 5.5a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z";
  var ICON_CLOSE = "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z";
  var ICON_SEND = "M3.4 20.4 21 12 3.4 3.6 3.4 10l12.6 2-12.6 2z";
  var ICON_PERSON = "M12 12a4.5 4.5 0 1 0 0-9 4.5 4.5 0 0 0 0 9zm0 2c-4.4 0-8 2.2-8 5v1.5h16V19c0-2.8-3.6-5-8-5z";
  var ICON_LEAF = "M20 4c-7.5 0-13 3.6-14.6 9.3-.5 1.6-.5 3.3-.1 4.9L3 20.6 4.4 22l2.4-2.4c1.3.5 2.6.7 3.9.7C17 20.3 20 13.8 20 4zm-9.3 14.3c-.9 0-1.7-.1-2.5-.4l5.5-5.5-1.4-1.4-5.5 5.5c-.2-.9-.2-1.8.1-2.7C8.2 9.3 12.4 6.4 18 6c-.4 7.8-2.9 12.3-7.3 12.3z";

  var CSS = [
    // The host element lives in the shop's document, where any page rule (even `div{...!important}`)
    // matches it; important declarations of :host win over the page's important ones.
    ":host{all:initial!important;display:block!important;position:fixed!important;z-index:2147483000!important;bottom:20px!important;right:20px!important;left:auto!important;top:auto!important;font-family:-apple-system,BlinkMacSystemFont,'Hiragino Sans','Hiragino Kaku Gothic ProN','Noto Sans JP','Noto Sans CJK JP','Yu Gothic UI',Meiryo,'Segoe UI',Roboto,sans-serif!important;font-size:15px!important;line-height:1.55!important;color:#1f2a26!important;-webkit-font-smoothing:antialiased;--c:#2f6f5e;--c-ink:#fff;--c-soft:#e8f1ee}",
    ":host([data-position=left]){right:auto!important;left:20px!important}",
    "*,*::before,*::after{box-sizing:border-box}",
    "[hidden]{display:none!important}",
    ".sr-only{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0}",
    "button,input,textarea{font:inherit;color:inherit}",
    "button{cursor:pointer}",
    ":focus-visible{outline:3px solid #f2b64c;outline-offset:2px}",
    ".launcher{position:relative;display:flex;align-items:center;gap:10px;height:56px;padding:0 22px 0 18px;border:0;border-radius:28px;background:var(--c);color:var(--c-ink);font-weight:600;font-size:15px;box-shadow:0 8px 24px rgba(20,40,30,.28),0 2px 6px rgba(20,40,30,.18);transition:transform .15s ease,box-shadow .15s ease}",
    ".launcher:hover{transform:translateY(-2px);box-shadow:0 12px 28px rgba(20,40,30,.32)}",
    ".badge{position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;background:#d8453b;color:#fff;font-size:12px;font-weight:700;line-height:22px;text-align:center;border:2px solid #fff}",
    ".panel{display:flex;flex-direction:column;width:380px;height:min(640px,calc(100vh - 40px));background:#fff;border-radius:18px;overflow:hidden;box-shadow:0 18px 50px rgba(20,40,30,.28),0 3px 10px rgba(20,40,30,.12);animation:rise .18s ease-out}",
    "@keyframes rise{from{opacity:0;transform:translateY(12px)}to{opacity:1;transform:none}}",
    "header{display:flex;align-items:center;gap:12px;padding:14px 12px 14px 16px;background:var(--c);color:var(--c-ink)}",
    ".avatar{flex:none;display:grid;place-items:center;width:40px;height:40px;border-radius:50%;background:rgba(255,255,255,.18)}",
    ".heading{flex:1;min-width:0}",
    "h2{margin:0;font-size:16px;font-weight:700;line-height:1.3;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}",
    ".subtitle{margin:0;font-size:12.5px;opacity:.9;display:flex;align-items:center;gap:6px}",
    ".dot{width:8px;height:8px;border-radius:50%;background:#7be0a6;box-shadow:0 0 0 2px rgba(255,255,255,.25)}",
    ".dot[data-state=waiting]{background:#f2c14e}.dot[data-state=offline],.dot[data-state=ended]{background:#c9cfcc}",
    ".icon-btn{flex:none;display:grid;place-items:center;width:36px;height:36px;border:0;border-radius:10px;background:transparent;color:inherit}",
    ".icon-btn:hover{background:rgba(255,255,255,.16)}",
    ".toolbar{display:flex;gap:8px;padding:8px 12px;border-bottom:1px solid #e6ebe9;background:#fafcfb}",
    ".chip{display:inline-flex;align-items:center;gap:6px;padding:5px 12px;border:1px solid #d5dedb;border-radius:999px;background:#fff;font-size:13px;color:#33443e}",
    ".chip:hover{border-color:var(--c);color:var(--c)}",
    ".banner{display:flex;align-items:center;gap:10px;margin:10px 12px 0;padding:10px 12px;border-radius:12px;background:#fff7e3;color:#5b4512;font-size:13.5px;border:1px solid #f3e0ae}",
    ".banner.warn{background:#fdecea;color:#7a2620;border-color:#f5c6c2}",
    ".spinner{flex:none;width:16px;height:16px;border-radius:50%;border:2px solid currentColor;border-right-color:transparent;animation:spin .9s linear infinite;opacity:.8}",
    "@keyframes spin{to{transform:rotate(360deg)}}",
    ".scroller{flex:1;overflow-y:auto;padding:14px 14px 6px;background:#f6f8f7;scroll-behavior:smooth}",
    ".log{display:flex;flex-direction:column;gap:10px}",
    ".log:focus-visible{outline-offset:6px}",
    ".msg{display:flex;flex-direction:column;max-width:84%}",
    ".msg .who{font-size:11.5px;color:#6b7a75;margin:0 6px 2px}",
    ".bubble{padding:9px 13px;border-radius:16px;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word}",
    ".msg.bot,.msg.agent{align-self:flex-start}",
    ".msg.bot .bubble{background:#fff;border:1px solid #e3e9e6;border-top-left-radius:5px}",
    ".msg.agent .bubble{background:var(--c-soft);border:1px solid rgba(0,0,0,.04);border-top-left-radius:5px}",
    ".msg.customer{align-self:flex-end;align-items:flex-end}",
    ".msg.customer .bubble{background:var(--c);color:var(--c-ink);border-top-right-radius:5px}",
    ".msg.pending .bubble{opacity:.65}",
    ".msg.failed .bubble{background:#fbe3e1;color:#7a2620}",
    ".msg time{font-size:11px;color:#8a9893;margin:2px 6px 0}",
    ".msg.system{align-self:center;max-width:92%;text-align:center;font-size:12.5px;color:#5f6e69;background:#e9efec;padding:4px 12px;border-radius:999px}",
    ".msg.welcome{align-self:flex-start}",
    ".article-link{margin:3px 6px 0;font-size:13px;color:var(--c);font-weight:600}",
    ".help{margin:10px 0 4px;padding:12px;border:1px solid #e3e9e6;border-radius:14px;background:#fff}",
    ".help form{display:flex;gap:6px}",
    ".help label{display:block;font-size:13px;font-weight:600;color:#33443e;margin-bottom:6px}",
    ".help input{flex:1;min-width:0;padding:8px 10px;border:1.5px solid #d5dedb;border-radius:10px;outline:none}",
    ".help input:focus{border-color:var(--c);box-shadow:0 0 0 3px var(--c-soft)}",
    ".help ul{list-style:none;margin:10px 0 0;padding:0;display:flex;flex-direction:column;gap:8px}",
    ".help li a{color:var(--c);font-weight:600;font-size:14px}",
    ".help li p{margin:2px 0 0;font-size:12.5px;color:#5f6e69}",
    ".help mark{background:#ffe58a;color:inherit}",
    ".help .note{margin:10px 0 0;font-size:13px;color:#4a5954}",
    ".help .ask{margin-top:10px}",
    ".retry{margin-top:4px;border:0;background:none;color:#b3261e;font-size:12.5px;text-decoration:underline;padding:0 6px}",
    ".typing{display:flex;align-items:center;gap:8px;margin:10px 0 4px;font-size:12.5px;color:#6b7a75}",
    ".dots{display:inline-flex;gap:4px;padding:10px 12px;border-radius:14px;background:#fff;border:1px solid #e3e9e6}",
    ".dots i{width:6px;height:6px;border-radius:50%;background:#9aa8a3;animation:blink 1.2s infinite ease-in-out}",
    ".dots i:nth-child(2){animation-delay:.15s}.dots i:nth-child(3){animation-delay:.3s}",
    "@keyframes blink{0%,80%,100%{opacity:.3;transform:translateY(0)}40%{opacity:1;transform:translateY(-3px)}}",
    ".quick{display:flex;flex-wrap:wrap;gap:8px;padding:8px 14px 2px;background:#f6f8f7}",
    ".quick button{padding:7px 14px;border:1.5px solid var(--c);border-radius:999px;background:#fff;color:var(--c);font-size:13.5px;font-weight:600}",
    ".quick button:hover{background:var(--c);color:var(--c-ink)}",
    ".composer{display:flex;align-items:flex-end;gap:8px;padding:10px 12px 12px;border-top:1px solid #e6ebe9;background:#fff}",
    "textarea{flex:1;min-height:42px;max-height:120px;resize:none;padding:10px 12px;border:1.5px solid #d5dedb;border-radius:12px;background:#fff;line-height:1.45;outline:none}",
    "textarea:focus{border-color:var(--c);box-shadow:0 0 0 3px var(--c-soft)}",
    "textarea:focus-visible{outline:none}",
    ".send{flex:none;display:grid;place-items:center;width:42px;height:42px;border:0;border-radius:12px;background:var(--c);color:var(--c-ink)}",
    ".send:disabled{opacity:.45;cursor:default}",
    ".card{margin:10px 12px 12px;padding:16px;border:1px solid #e3e9e6;border-radius:14px;background:#fff;overflow-y:auto}",
    ".card h3{margin:0 0 4px;font-size:15.5px}",
    ".card h3:focus{outline:none}",
    ".card p{margin:0 0 12px;font-size:13.5px;color:#4a5954}",
    ".field{display:flex;flex-direction:column;gap:4px;margin-bottom:12px;font-size:13px;font-weight:600;color:#33443e}",
    ".field input,.field textarea{width:100%;padding:9px 11px;border:1.5px solid #d5dedb;border-radius:10px;font-weight:400;font-size:14px;outline:none;min-height:0;max-height:none}",
    ".field input:focus,.field textarea:focus{border-color:var(--c);box-shadow:0 0 0 3px var(--c-soft)}",
    ".error{color:#b3261e;font-size:12.5px;font-weight:400;margin:0}",
    "fieldset{border:0;margin:0 0 12px;padding:0}",
    "legend{padding:0;margin-bottom:6px;font-size:13px;font-weight:600;color:#33443e}",
    ".stars{display:inline-flex;gap:2px}",
    ".stars input{position:absolute;opacity:0;width:1px;height:1px}",
    ".stars label{font-size:30px;line-height:1;color:#d5dcd9;cursor:pointer;padding:0 2px;transition:color .1s}",
    ".stars label.on{color:#f2b01e}",
    ".stars input:focus-visible+label{outline:3px solid #f2b64c;outline-offset:1px;border-radius:4px}",
    ".scale{display:grid;grid-template-columns:repeat(5,1fr);gap:6px}",
    ".scale input{position:absolute;opacity:0;width:1px;height:1px}",
    ".scale label{display:flex;flex-direction:column;align-items:center;gap:2px;padding:7px 2px;border:1.5px solid #d5dedb;border-radius:10px;font-size:11px;text-align:center;cursor:pointer;color:#4a5954;line-height:1.25}",
    ".scale label b{font-size:15px;color:#1f2a26}",
    ".scale input:checked+label{border-color:var(--c);background:var(--c-soft);color:var(--c)}",
    ".scale input:focus-visible+label{outline:3px solid #f2b64c;outline-offset:1px}",
    ".nps{display:grid;grid-template-columns:repeat(11,1fr);gap:3px}",
    ".nps input{position:absolute;opacity:0;width:1px;height:1px}",
    ".nps label{display:flex;align-items:center;justify-content:center;padding:7px 0;border:1.5px solid #d5dedb;border-radius:8px;font-size:13px;font-weight:600;cursor:pointer;color:#1f2a26}",
    ".nps input:checked+label{border-color:var(--c);background:var(--c-soft);color:var(--c)}",
    ".nps input:focus-visible+label{outline:3px solid #f2b64c;outline-offset:1px}",
    ".nps-ends{display:flex;justify-content:space-between;font-size:11px;color:#6b7a75;margin-top:3px}",
    ".actions{display:flex;gap:8px;flex-wrap:wrap}",
    ".primary{padding:10px 18px;border:0;border-radius:10px;background:var(--c);color:var(--c-ink);font-weight:700}",
    ".secondary{padding:10px 14px;border:1.5px solid #d5dedb;border-radius:10px;background:#fff;color:#33443e;font-weight:600}",
    ".confirm{display:flex;align-items:center;justify-content:space-between;gap:8px;flex-wrap:wrap;padding:10px 12px;border-top:1px solid #e6ebe9;background:#fafcfb;font-size:13.5px}",
    "footer{padding:5px;text-align:center;font-size:11px;color:#98a5a1;background:#fff}",
    "@media (max-width:480px){:host{bottom:12px!important;right:12px!important}:host([data-position=left]){left:12px!important;right:auto!important}:host([data-open]){top:0!important;left:0!important;bottom:0!important;right:0!important}.panel{width:100vw;height:100vh;height:100dvh;border-radius:0;animation:none}}",
    "@media (prefers-reduced-motion:reduce){*{animation:none!important;transition:none!important}}"
  ].join("\n");

  // The shop's signed-in customer: window.TsunagiSettings.customer, else the tag's data-customer-*.
  function customerOf(data) {
    var given = (window.TsunagiSettings && window.TsunagiSettings.customer) || {
      id: data.customerId, name: data.customerName, email: data.customerEmail, hash: data.customerHash
    };
    if (!given || !given.id || !given.hash) return null;
    var customer = { id: String(given.id), hash: String(given.hash) };
    if (given.name) customer.name = String(given.name);
    if (given.email) customer.email = String(given.email);
    return customer;
  }

  function Widget(el) {
    var data = el.dataset || {};
    var src = el.getAttribute("src") || "";
    var origin = src ? new URL(src, document.baseURI).origin : window.location.origin;
    this.server = (data.server || origin).replace(/\/+$/, "");
    this.lang = pickLanguage(data.lang) || pickLanguage(document.documentElement.lang) ||
      pickLanguage(navigator.language) || "ja";
    this.t = STRINGS[this.lang];
    this.color = validColor(data.color);
    this.textColor = validColor(data.textColor);
    this.titleText = data.title || this.t.title;
    this.welcomeText = data.welcome || this.t.welcome;
    this.position = data.position === "left" ? "left" : "right";
    this.storageKey = "tsunagi:v1:" + this.server;
    this.customer = customerOf(data);

    this.conversation = null;   // {id, token}
    this.status = null;         // bot | waiting | assigned | resolved | offline
    this.agentName = null;
    this.lastEventId = null;
    this.seen = {};             // seq -> element, for de-duplication
    this.pending = [];          // optimistic customer messages waiting for their seq
    this.es = null;
    this.retryDelay = 1000;
    this.retryTimer = null;
    this.streamLost = false;
    this.typingTimer = null;
    this.botBusy = 0;
    this.unread = 0;
    this.lastTypingSent = 0;
    this.rated = false;
    this.offlineSent = false;
    this.build();
  }

  Widget.prototype.build = function () {
    var t = this.t, self = this;
    // An element name of its own: the shop's `div` or `section` rules do not even match the host.
    this.host = h("tsunagi-chat", { id: "tsunagi-widget", "data-position": this.position, lang: this.lang });
    var root = this.root = this.host.attachShadow({ mode: "open" });
    // A constructed stylesheet, not a <style> element: a page whose Content-Security-Policy
    // forbids inline styles (ours, and a careful shop's) still styles the widget.
    if (root.adoptedStyleSheets !== undefined && typeof CSSStyleSheet === "function" && CSSStyleSheet.prototype.replaceSync) {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } else {
      var style = h("style");
      style.textContent = CSS;
      root.appendChild(style);
    }
    if (this.color) this.host.style.setProperty("--c", this.color);
    if (this.textColor) this.host.style.setProperty("--c-ink", this.textColor);
    if (this.color) this.host.style.setProperty("--c-soft", tint(this.color, 0.12));

    this.badge = h("span", { class: "badge", "aria-hidden": "true", hidden: true });
    this.launcher = h("button", {
      class: "launcher", type: "button", "aria-expanded": "false", "aria-controls": "tsunagi-panel",
      "aria-haspopup": "dialog", onclick: function () { self.open(); }
    }, [svg(ICON_CHAT, 26), h("span", { class: "launcher-label", text: t.open }), this.badge]);

    this.titleEl = h("h2", { id: "tsunagi-title", text: this.titleText });
    this.stateDot = h("span", { class: "dot", "data-state": "bot", "aria-hidden": "true" });
    this.subtitle = h("span", { text: t.subtitleBot });
    this.closeBtn = h("button", {
      class: "icon-btn", type: "button", "aria-label": t.close, title: t.close,
      onclick: function () { self.close(); }
    }, [svg(ICON_CLOSE, 22)]);
    var header = h("header", null, [
      h("div", { class: "avatar" }, [svg(ICON_LEAF, 22)]),
      h("div", { class: "heading" }, [this.titleEl, h("p", { class: "subtitle" }, [this.stateDot, this.subtitle])]),
      this.closeBtn
    ]);

    this.humanBtn = h("button", { class: "chip", type: "button", onclick: function () { self.requestHuman(); } },
      [svg(ICON_PERSON, 16), t.talkToHuman]);
    this.endBtn = h("button", { class: "chip", type: "button", onclick: function () { self.askEnd(); } }, [t.end]);
    this.toolbar = h("div", { class: "toolbar", role: "toolbar", "aria-label": t.title }, [this.humanBtn, this.endBtn]);

    this.banner = h("div", { class: "banner", role: "status", "aria-live": "polite", hidden: true });
    this.log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": t.log, tabindex: "0" });
    this.typingText = h("span");
    this.typing = h("div", { class: "typing", role: "status", hidden: true },
      [h("span", { class: "dots", "aria-hidden": "true" }, [h("i"), h("i"), h("i")]), this.typingText]);
    this.scroller = h("div", { class: "scroller" }, [
      h("div", { class: "msg bot welcome" }, [
        h("span", { class: "who", text: t.bot }), h("div", { class: "bubble", text: this.welcomeText })
      ]),
      this.buildHelpSearch(),
      this.log, this.typing
    ]);
    this.quick = h("div", { class: "quick", role: "group", "aria-label": t.log, hidden: true });

    this.input = h("textarea", {
      id: "tsunagi-input", rows: "1", placeholder: t.placeholder, "aria-label": t.inputLabel,
      autocomplete: "off", enterkeyhint: "send", maxlength: "2000"
    });
    this.sendBtn = h("button", { class: "send", type: "submit", "aria-label": t.send, title: t.send, disabled: true },
      [svg(ICON_SEND, 22)]);
    this.composer = h("form", { class: "composer", novalidate: true }, [this.input, this.sendBtn]);
    this.composer.addEventListener("submit", function (e) { e.preventDefault(); self.submitComposer(); });
    this.bindInput();

    this.confirm = h("div", { class: "confirm", hidden: true }, [
      h("span", { text: t.confirmEnd }),
      h("span", { class: "actions" }, [
        h("button", { class: "secondary", type: "button", text: t.confirmNo, onclick: function () { self.cancelEnd(); } }),
        h("button", { class: "primary", type: "button", text: t.confirmYes, onclick: function () { self.showRating(); } })
      ])
    ]);
    this.card = h("div", { class: "card", hidden: true });

    this.panel = h("section", {
      class: "panel", id: "tsunagi-panel", role: "dialog", "aria-modal": "false",
      "aria-labelledby": "tsunagi-title", hidden: true
    }, [header, this.toolbar, this.banner, this.scroller, this.quick, this.card, this.confirm, this.composer,
      h("footer", { text: t.poweredBy })]);
    this.panel.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { e.preventDefault(); self.close(); }
    });

    root.appendChild(this.launcher);
    root.appendChild(this.panel);
    document.body.appendChild(this.host);
    this.setStatus(null);
  };

  // The empty state (before the first message): a search over the help center. Its top articles
  // are links; "ask us" puts the words into the chat instead.
  Widget.prototype.buildHelpSearch = function () {
    var t = this.t, self = this;
    this.helpInput = h("input", { id: "tsunagi-help-q", type: "search", maxlength: "200", autocomplete: "off",
      placeholder: t.helpSearchPlaceholder, enterkeyhint: "search" });
    this.helpResults = h("div", { class: "help-results", "aria-live": "polite" });
    var form = h("form", { role: "search", "aria-label": t.helpSearchLabel, novalidate: true }, [
      this.helpInput, h("button", { class: "secondary", type: "submit", text: t.helpSearch })
    ]);
    form.addEventListener("submit", function (e) { e.preventDefault(); self.searchHelp(); });
    this.helpBox = h("div", { class: "help" }, [h("label", { for: "tsunagi-help-q", text: t.helpSearchLabel }), form,
      this.helpResults]);
    return this.helpBox;
  };

  Widget.prototype.searchHelp = function () {
    var t = this.t, self = this, query = this.helpInput.value.trim();
    if (!query) return;
    var asked = this.helpAsked = (this.helpAsked || 0) + 1;
    this.api("GET", "/api/v1/help/search?limit=3&lang=" + encodeURIComponent(this.lang) + "&q=" + encodeURIComponent(query))
      .then(function (res) {
        if (asked !== self.helpAsked) return;  // a newer search is on its way
        self.helpResults.textContent = "";
        var hits = res.hits || [];
        if (hits.length) {
          self.helpResults.appendChild(h("ul", { "aria-label": t.helpResults }, hits.map(function (hit) {
            var snippet = h("p");
            self.fillSnippet(snippet, hit.snippet_html || "");
            return h("li", null, [h("a", { href: self.articleHref(hit.url), target: "_blank", rel: "noopener", text: hit.title }), snippet]);
          })));
        }
        if (res.no_good_result || !hits.length) self.helpResults.appendChild(h("p", { class: "note", text: t.helpNoResult }));
        self.helpResults.appendChild(h("button", { class: "primary ask", type: "button", text: t.askUs,
          onclick: function () { self.askInChat(query); } }));
      }, function () {
        if (asked !== self.helpAsked) return;
        self.helpResults.textContent = "";
        self.helpResults.appendChild(h("p", { class: "note", text: t.helpError }));
        self.helpResults.appendChild(h("button", { class: "primary ask", type: "button", text: t.askUs,
          onclick: function () { self.askInChat(query); } }));
      });
  };

  // The server's snippet is escaped text with <mark> around the matched words: rebuilt here from
  // text nodes and <mark> elements, so nothing else in it could ever become markup.
  Widget.prototype.fillSnippet = function (el, html) {
    var parts = html.split(/<\/?mark>/), decode = h("textarea");
    parts.forEach(function (part, i) {
      decode.innerHTML = part.replace(/</g, "&lt;");  // entities only: a textarea's content is never parsed as tags
      var text = document.createTextNode(decode.value);
      el.appendChild(i % 2 ? h("mark", null, [text]) : text);
    });
  };

  // An article's address on the help center (the service's), from the path the API gives.
  Widget.prototype.articleHref = function (path) {
    return typeof path === "string" && /^\/(en\/)?help\//.test(path) ? this.server + path : null;
  };

  Widget.prototype.askInChat = function (query) {
    this.helpInput.value = "";
    this.send(query, query);
  };

  Widget.prototype.updateEmptyState = function () {
    this.helpBox.hidden = !!(this.conversation || this.log.children.length);
  };

  // IME-safe Enter: while a kana-kanji conversion is open, Enter confirms the conversion and
  // must not send. Chrome and Firefox flag such keydowns with isComposing; Safari fires
  // compositionend *before* the keydown, which still carries keyCode 229, hence all three checks.
  Widget.prototype.bindInput = function () {
    var self = this;
    this.composing = false;
    this.input.addEventListener("compositionstart", function () { self.composing = true; });
    this.input.addEventListener("compositionend", function () { self.composing = false; });
    this.input.addEventListener("keydown", function (e) {
      if (e.key !== "Enter" || e.shiftKey || e.altKey || e.ctrlKey || e.metaKey) return;
      if (e.isComposing || self.composing || e.keyCode === 229) return;
      e.preventDefault();
      self.submitComposer();
    });
    this.input.addEventListener("input", function () {
      self.sendBtn.disabled = !self.input.value.trim();
      self.autosize();
      self.sendTyping();
    });
  };

  Widget.prototype.autosize = function () {
    this.input.style.height = "auto";
    this.input.style.height = Math.min(this.input.scrollHeight + 3, 120) + "px";
  };

  Widget.prototype.open = function () {
    this.panel.hidden = false;
    this.launcher.hidden = true;
    this.launcher.setAttribute("aria-expanded", "true");
    this.host.setAttribute("data-open", "");
    this.unread = 0;
    this.updateBadge();
    try { sessionStorage.setItem(this.storageKey + ":open", "1"); } catch (e) { /* private mode */ }
    this.scrollToEnd(true);
    var target = !this.composer.hidden ? this.input : this.card.querySelector("input, textarea, button, h3");
    (target || this.closeBtn).focus();
  };

  Widget.prototype.close = function () {
    this.panel.hidden = true;
    this.launcher.hidden = false;
    this.launcher.setAttribute("aria-expanded", "false");
    this.host.removeAttribute("data-open");
    try { sessionStorage.removeItem(this.storageKey + ":open"); } catch (e) { /* private mode */ }
    this.launcher.focus();
  };

  Widget.prototype.isOpen = function () { return !this.panel.hidden; };

  Widget.prototype.updateBadge = function () {
    this.badge.hidden = this.unread === 0;
    this.badge.textContent = String(this.unread);
    this.launcher.setAttribute("aria-label", this.unread ? this.t.open + "（" + fmt(this.t.unread, { n: this.unread }) + "）" : this.t.open);
  };

  // ---- persistence -------------------------------------------------------------------------

  Widget.prototype.save = function () {
    if (!this.conversation) return;
    try {
      localStorage.setItem(this.storageKey, JSON.stringify({
        id: this.conversation.id, token: this.conversation.token,
        customerId: this.customer ? this.customer.id : null, lastEventId: this.lastEventId, rated: this.rated, offlineSent: this.offlineSent
      }));
    } catch (e) { /* storage full or disabled: the chat still works for this page view */ }
  };

  Widget.prototype.load = function () {
    try {
      var saved = JSON.parse(localStorage.getItem(this.storageKey) || "null");
      if (saved && saved.id && saved.token) {
        // Another customer signed in on this device (or the customer signed out): their
        // conversation is not reopened for whoever is here now.
        if ((saved.customerId || null) !== (this.customer ? this.customer.id : null)) { this.forget(); return null; }
        return saved;
      }
    } catch (e) { /* corrupt entry: start afresh */ }
    return null;
  };

  Widget.prototype.forget = function () {
    try { localStorage.removeItem(this.storageKey); } catch (e) { /* ignore */ }
  };

  // ---- HTTP --------------------------------------------------------------------------------

  Widget.prototype.api = function (method, path, body) {
    var headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (this.conversation) headers.Authorization = "Bearer " + this.conversation.token;
    return fetch(this.server + path, {
      method: method, headers: headers, mode: "cors", credentials: "omit",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (res) {
      if (res.status === 204) return null;
      return res.json().catch(function () { return {}; }).then(function (json) {
        if (!res.ok) {
          var err = new Error((json && json.error && json.error.message) || ("HTTP " + res.status));
          err.status = res.status;
          err.code = json && json.error && json.error.code;
          throw err;
        }
        return json;
      });
    });
  };

  Widget.prototype.path = function (suffix) {
    return "/api/v1/conversations/" + encodeURIComponent(this.conversation.id) + (suffix || "");
  };

  Widget.prototype.ensureConversation = function () {
    var self = this;
    if (this.conversation) return Promise.resolve(this.conversation);
    if (this.creating) return this.creating;
    var body = { language: this.lang, page_url: location.href };
    if (this.customer) body.customer = this.customer;
    this.creating = this.api("POST", "/api/v1/conversations", body)
      .catch(function (err) {
        // An identity the service cannot take (too long, malformed): chat anonymously all the same.
        if (err.status !== 422 || !body.customer) throw err;
        if (window.console) console.warn("Tsunagi: the customer identity was refused (" + err.message + ")");
        delete body.customer;
        return self.api("POST", "/api/v1/conversations", body);
      })
      .then(function (conv) {
        self.conversation = { id: conv.id, token: conv.token };
        if (Array.isArray(conv.surveys)) self.surveys = conv.surveys;
        if (conv.email_replies !== undefined) self.emailReplies = conv.email_replies;
        self.creating = null;
        self.save();
        self.setStatus(conv.status || "bot");
        self.openStream();
        return self.conversation;
      }, function (err) { self.creating = null; throw err; });
    return this.creating;
  };

  // Restores the conversation stored by an earlier page view: status, history, then the stream.
  Widget.prototype.restore = function () {
    var saved = this.load(), self = this;
    if (!saved) return Promise.resolve();
    this.conversation = { id: saved.id, token: saved.token };
    this.lastEventId = saved.lastEventId || null;
    this.rated = !!saved.rated;
    this.offlineSent = !!saved.offlineSent;
    return this.api("GET", this.path()).then(function (conv) {
      return self.fetchMessages(0).then(function () {
        self.applyConversation(conv);
        if (conv.status !== "resolved" || !self.rated) self.openStream();
      });
    }).catch(function (err) {
      if (err.status === 401 || err.status === 403 || err.status === 404) {
        self.conversation = null;
        self.forget();
      }
    });
  };

  Widget.prototype.fetchMessages = function (after) {
    var self = this;
    return this.api("GET", this.path("/messages?after=" + (after || 0))).then(function (res) {
      (res.messages || []).forEach(function (m) { self.addMessage(m); });
    });
  };

  Widget.prototype.maxSeq = function () {
    var max = 0;
    Object.keys(this.seen).forEach(function (k) { max = Math.max(max, Number(k)); });
    return max;
  };

  // ---- live stream -------------------------------------------------------------------------

  // EventSource cannot send an Authorization header, and the conversation's token must never be
  // in a URL (URLs end up in logs): each connection first asks, with the token in the header, for
  // a ticket that opens this conversation's stream once, within a minute.
  Widget.prototype.openStream = function () {
    var self = this;
    if (!this.conversation || typeof EventSource === "undefined") return;
    this.closeStream();
    var attempt = this.streamAttempt = (this.streamAttempt || 0) + 1;
    this.api("POST", this.path("/stream-ticket"), {}).then(function (res) {
      if (attempt !== self.streamAttempt || !self.conversation) return;  // closed or reopened meanwhile
      self.connectStream(res.ticket);
    }, function (err) {
      if (attempt !== self.streamAttempt) return;
      if (err.status === 401 || err.status === 403 || err.status === 404) return;  // the conversation is gone
      self.streamFailed();
    });
  };

  Widget.prototype.connectStream = function (ticket) {
    var self = this;
    var url = this.server + this.path("/stream") + "?ticket=" + encodeURIComponent(ticket);
    if (this.lastEventId !== null && this.lastEventId !== undefined) url += "&last_event_id=" + encodeURIComponent(this.lastEventId);
    var es = this.es = new EventSource(url);
    function track(e) {
      if (e.lastEventId) { self.lastEventId = e.lastEventId; self.save(); }
    }
    function parse(e) { try { return JSON.parse(e.data); } catch (err) { return null; } }
    es.addEventListener("open", function () {
      var recovering = self.streamLost;
      self.retryDelay = 1000;
      self.streamLost = false;
      self.renderBanner();
      // The stream replays from the last event id; reading the history after the last seq as
      // well covers a server that lost its stored events. De-duplication by seq makes the
      // overlap harmless.
      if (recovering) {
        self.fetchMessages(self.maxSeq()).catch(function () { /* the stream will carry on */ });
        self.refreshConversation();
      }
    });
    es.addEventListener("message", function (e) { track(e); var m = parse(e); if (m) self.addMessage(m.message || m); });
    es.addEventListener("status", function (e) { track(e); var d = parse(e); if (d) self.applyConversation(d); });
    es.addEventListener("queue", function (e) { track(e); var d = parse(e); if (d) self.applyQueue(d.queue !== undefined ? d.queue : d); });
    es.addEventListener("typing", function (e) { track(e); var d = parse(e); if (d) self.applyTyping(d); });
    es.addEventListener("error", function () {
      // We reconnect ourselves rather than leave it to EventSource: a ticket opens the stream
      // only once, so every reconnect gets a fresh one, carries the last event id in the URL as
      // well and is followed by a history catch-up.
      if (self.es !== es) return;
      self.streamFailed();
    });
  };

  Widget.prototype.streamFailed = function () {
    this.closeStream();
    this.streamLost = true;
    this.renderBanner();
    this.scheduleReconnect();
  };

  Widget.prototype.closeStream = function () {
    this.streamAttempt = (this.streamAttempt || 0) + 1;   // a ticket still on its way opens nothing
    if (this.es) { this.es.close(); this.es = null; }
    if (this.retryTimer) { clearTimeout(this.retryTimer); this.retryTimer = null; }
  };

  Widget.prototype.scheduleReconnect = function () {
    var self = this;
    if (this.retryTimer) return;
    var delay = this.retryDelay;
    this.retryDelay = Math.min(this.retryDelay * 2, 15000);
    this.retryTimer = setTimeout(function () {
      self.retryTimer = null;
      self.openStream();
    }, delay);
  };

  Widget.prototype.reconnectNow = function () {
    if (!this.conversation || !this.streamLost) return;
    this.retryDelay = 1000;
    this.closeStream();
    this.openStream();
  };

  Widget.prototype.refreshConversation = function () {
    var self = this;
    if (!this.conversation) return Promise.resolve();
    return this.api("GET", this.path()).then(function (conv) { self.applyConversation(conv); })
      .catch(function () { /* transient; the next event brings the state */ });
  };

  // ---- state -------------------------------------------------------------------------------

  Widget.prototype.applyConversation = function (conv) {
    if (conv.agent !== undefined) this.agentName = conv.agent && conv.agent.name ? conv.agent.name : null;
    if (conv.agent_name) this.agentName = conv.agent_name;
    if (conv.queue !== undefined) this.queue = conv.queue;
    if (Array.isArray(conv.surveys)) this.surveys = conv.surveys;
    if (conv.online !== undefined) this.online = conv.online;
    if (conv.email_replies !== undefined) this.emailReplies = conv.email_replies;
    if (conv.status) this.setStatus(conv.status);
    else this.renderBanner();
  };

  Widget.prototype.applyQueue = function (queue) {
    this.queue = queue;
    this.renderBanner();
  };

  Widget.prototype.applyTyping = function (d) {
    var who = d.sender || d.role || "agent";
    if (who === "customer") return;
    if (d.typing) this.showTyping(who === "bot" ? this.t.botTyping : fmt(this.t.agentTyping, { name: d.name || d.agent_name || this.agentName || this.t.agent }));
    else this.hideTyping();
  };

  Widget.prototype.showTyping = function (label) {
    var self = this;
    this.typingText.textContent = label;
    this.typing.hidden = false;
    this.scrollToEnd();
    clearTimeout(this.typingTimer);
    // A lost "stopped typing" event must not leave the dots on for ever.
    this.typingTimer = setTimeout(function () { self.hideTyping(); }, 10000);
  };

  Widget.prototype.hideTyping = function () {
    clearTimeout(this.typingTimer);
    if (this.botBusy > 0) { this.typingText.textContent = this.t.botTyping; return; }
    this.typing.hidden = true;
  };

  Widget.prototype.setStatus = function (status) {
    var t = this.t;
    this.status = status;
    var state = status === "waiting" ? "waiting" : status === "offline" ? "offline" :
      status === "resolved" || status === "ended" ? "ended" : "bot";
    this.stateDot.setAttribute("data-state", state);
    if (status === "assigned" && this.agentName) this.subtitle.textContent = fmt(t.subtitleAgent, { name: this.agentName });
    else if (status === "waiting") this.subtitle.textContent = t.subtitleWaiting;
    // Offline inside support hours: open, but no agent online (WHEN_NOBODY_ONLINE=offline_form).
    else if (status === "offline") this.subtitle.textContent = this.online ? t.subtitleNobody : t.subtitleOffline;
    else if (state === "ended") this.subtitle.textContent = t.subtitleEnded;
    else this.subtitle.textContent = t.subtitleBot;

    this.humanBtn.hidden = !(status === null || status === "bot");
    this.endBtn.hidden = !this.conversation || state === "ended" || status === "offline";

    if (status === "offline" && !this.offlineSent) this.showOfflineForm();
    else if (status === "offline") this.showCardMessage(this.offlineThanksText(), false);
    else if (state === "ended" && !this.rated) this.showRating();
    else if (state === "ended") this.showCardMessage(t.thanks, true);
    else if (this.card.getAttribute("data-kind") !== "ended") this.hideCard();
    this.renderBanner();
  };

  Widget.prototype.renderBanner = function () {
    var t = this.t, b = this.banner;
    b.textContent = "";
    b.className = "banner";
    if (this.streamLost) {
      b.classList.add("warn");
      b.appendChild(h("span", { class: "spinner", "aria-hidden": "true" }));
      b.appendChild(h("span", { text: t.reconnecting }));
      b.hidden = false;
      return;
    }
    if (this.status !== "waiting") { b.hidden = true; return; }
    var q = this.queue, text = t.queueUnknown;
    if (q && typeof q.position === "number") {
      // position counts the customer too: 1 means first in line, nobody ahead.
      var ahead = Math.max(0, q.ahead !== undefined ? q.ahead : q.position - 1);
      // eta_seconds is null while no agent is online: the place in line, but no made-up minutes.
      var minutes = Math.max(1, Math.round((q.eta_seconds || 0) / 60));
      text = ahead === 0 ? t.queueNext : typeof q.eta_seconds !== "number" ? fmt(t.queueAhead, { n: ahead })
        : fmt(t.queue, { n: ahead, m: minutes, minutes: minutes === 1 ? "minute" : "minutes" });
    }
    b.appendChild(h("span", { class: "spinner", "aria-hidden": "true" }));
    b.appendChild(h("span", { class: "queue-text", text: text }));
    b.hidden = false;
  };

  // ---- messages ----------------------------------------------------------------------------

  // A quick-reply click is stored with the button's title beside its payload.
  Widget.prototype.displayText = function (m) {
    return m.display_text || m.text || "";
  };

  Widget.prototype.renderMessage = function (m) {
    var t = this.t;
    if (m.sender === "system") {
      return h("div", { class: "msg system", "data-seq": m.seq, text: m.text || "" });
    }
    var who = m.sender === "customer" ? t.you : m.sender === "agent" ? (m.agent_name || this.agentName || t.agent) : t.bot;
    // A bot answer about a topic links to its help-center article.
    var article = m.sender === "bot" ? this.articleHref(m.article_url) : null;
    return h("div", { class: "msg " + (m.sender === "customer" ? "customer" : m.sender === "agent" ? "agent" : "bot"), "data-seq": m.seq }, [
      h("span", { class: "who", text: who }),
      h("div", { class: "bubble", text: this.displayText(m) }),
      article ? h("a", { class: "article-link", href: article, target: "_blank", rel: "noopener", text: t.readArticle }) : null,
      this.timeOf(m)
    ]);
  };

  Widget.prototype.timeOf = function (m) {
    var d = m.created_at ? new Date(m.created_at) : null;
    if (!d || isNaN(d)) return null;
    return h("time", { datetime: d.toISOString(), text: d.toLocaleTimeString(this.lang, { hour: "2-digit", minute: "2-digit" }) });
  };

  // An optimistic bubble becomes the stored message: its number, and its time.
  Widget.prototype.confirmPending = function (el, m) {
    el.classList.remove("pending");
    el.setAttribute("data-seq", m.seq);
    var time = el.querySelector("time") ? null : this.timeOf(m);
    if (time) el.appendChild(time);
  };

  Widget.prototype.addMessage = function (m) {
    if (!m || m.seq === undefined || m.seq === null) return;
    if (this.seen[m.seq]) return;
    this.rememberButtons(m);
    var el = null;
    if (m.sender === "customer") el = this.adoptPending(m);
    if (!el) {
      el = this.renderMessage(m);
      this.insertBySeq(el, m.seq);
    }
    this.seen[m.seq] = el;
    this.updateEmptyState();
    if (m.sender === "agent" || m.sender === "bot") {
      if (m.sender === "agent") this.hideTyping();
      if (!this.isOpen()) { this.unread += 1; this.updateBadge(); }
    }
    this.renderQuickReplies();
    this.scrollToEnd();
  };

  // An optimistic bubble becomes the stored message once the server echoes it (by POST answer
  // or by the stream, whichever comes first).
  Widget.prototype.adoptPending = function (m) {
    for (var i = 0; i < this.pending.length; i++) {
      var p = this.pending[i];
      if (p.sent === m.text) {
        this.pending.splice(i, 1);
        this.confirmPending(p.el, m);
        return p.el;
      }
    }
    return null;
  };

  // Keeps the log in seq order even when a catch-up fills a gap; optimistic bubbles stay last.
  Widget.prototype.insertBySeq = function (el, seq) {
    var items = this.log.children;
    for (var i = 0; i < items.length; i++) {
      var item = items[i], s = item.getAttribute("data-seq");
      if (item.classList.contains("pending") || item.classList.contains("failed") || (s !== null && Number(s) > seq)) {
        this.log.insertBefore(el, item);
        return;
      }
    }
    this.log.appendChild(el);
  };

  Widget.prototype.lastMessage = function () {
    var items = this.log.querySelectorAll(".msg[data-seq]");
    var best = null, bestSeq = -1;
    for (var i = 0; i < items.length; i++) {
      var s = Number(items[i].getAttribute("data-seq"));
      if (s > bestSeq) { bestSeq = s; best = items[i]; }
    }
    return best;
  };

  Widget.prototype.renderQuickReplies = function () {
    var self = this;
    this.quick.textContent = "";
    var last = this.lastMessage();
    var seq = last ? Number(last.getAttribute("data-seq")) : null;
    var buttons = seq !== null && this.buttonsBySeq ? this.buttonsBySeq[seq] : null;
    if (!buttons || !buttons.length || this.pending.length || (this.status && this.status !== "bot")) {
      this.quick.hidden = true;
      return;
    }
    buttons.forEach(function (b) {
      self.quick.appendChild(h("button", {
        type: "button", text: b.title,
        onclick: function () { self.send(b.payload, b.title); }
      }));
    });
    this.quick.hidden = false;
  };

  Widget.prototype.scrollToEnd = function (instant) {
    var s = this.scroller;
    if (instant) s.style.scrollBehavior = "auto";
    s.scrollTop = s.scrollHeight;
    if (instant) s.style.scrollBehavior = "";
  };

  // ---- sending -----------------------------------------------------------------------------

  Widget.prototype.submitComposer = function () {
    var text = this.input.value.trim();
    if (!text) return;
    this.input.value = "";
    this.sendBtn.disabled = true;
    this.autosize();
    this.send(text, text);
  };

  Widget.prototype.send = function (text, shown, existing) {
    var self = this, t = this.t;
    var clientId = existing ? existing.clientId : uuid();
    var el = existing ? existing.el : h("div", { class: "msg customer pending" }, [
      h("span", { class: "who", text: t.you }), h("div", { class: "bubble", text: shown })
    ]);
    if (existing) {
      el.classList.remove("failed");
      el.classList.add("pending");
      var old = el.querySelector(".retry");
      if (old) old.remove();
    } else {
      this.log.appendChild(el);
    }
    var entry = { clientId: clientId, sent: text, el: el };
    this.pending.push(entry);
    this.updateEmptyState();
    this.renderQuickReplies();
    this.scrollToEnd();
    var botAnswers = !this.status || this.status === "bot";
    if (botAnswers) { this.botBusy += 1; this.showTyping(t.botTyping); }
    var done = function () {
      if (botAnswers) { self.botBusy = Math.max(0, self.botBusy - 1); if (!self.botBusy) self.hideTyping(); }
    };
    return this.ensureConversation().then(function () {
      var body = { text: text, client_message_id: clientId };
      if (shown !== text) body.display_text = shown;   // a quick reply: the payload goes to the bot
      return self.api("POST", self.path("/messages"), body);
    }).then(function (res) {
      done();
      if (res && res.message) {
        var i = self.pending.indexOf(entry);
        if (i !== -1) self.pending.splice(i, 1);
        if (!self.seen[res.message.seq]) {
          self.confirmPending(el, res.message);
          self.seen[res.message.seq] = el;
        } else if (el.parentNode && self.seen[res.message.seq] !== el) {
          el.remove();   // the stream delivered it first
        }
      }
      ((res && res.replies) || []).forEach(function (m) { self.addMessage(m); });
      self.save();
      self.renderQuickReplies();
      if (!self.es || self.streamLost) self.refreshConversation();
    }).catch(function () {
      done();
      var i = self.pending.indexOf(entry);
      if (i !== -1) self.pending.splice(i, 1);
      el.classList.remove("pending");
      el.classList.add("failed");
      el.appendChild(h("button", {
        class: "retry", type: "button", text: t.sendError + " " + t.retry,
        onclick: function () { self.send(text, shown, { clientId: clientId, el: el }); }
      }));
    });
  };

  Widget.prototype.rememberButtons = function (m) {
    if (!m || !m.buttons || !m.buttons.length) return;
    this.buttonsBySeq = this.buttonsBySeq || {};
    this.buttonsBySeq[m.seq] = m.buttons;
  };

  Widget.prototype.sendTyping = function () {
    var self = this;
    if (!this.conversation || this.status !== "assigned") return;
    var now = Date.now();
    if (now - this.lastTypingSent > 2500) {
      this.lastTypingSent = now;
      this.api("POST", this.path("/typing"), { typing: true }).catch(function () { /* cosmetic */ });
    }
    clearTimeout(this.stopTypingTimer);
    this.stopTypingTimer = setTimeout(function () {
      self.lastTypingSent = 0;
      self.api("POST", self.path("/typing"), { typing: false }).catch(function () { /* cosmetic */ });
    }, 3000);
  };

  Widget.prototype.requestHuman = function () {
    var self = this;
    this.humanBtn.disabled = true;
    this.ensureConversation().then(function () {
      return self.api("POST", self.path("/handoff"), { reason: "request_human" });
    }).then(function (conv) {
      self.applyConversation(conv || {});
    }).catch(function () { /* button re-enabled below; the customer can try again */ })
      .then(function () { self.humanBtn.disabled = false; });
  };

  // ---- cards: offline form, rating ---------------------------------------------------------

  Widget.prototype.hideCard = function () {
    this.card.hidden = true;
    this.card.textContent = "";
    this.card.removeAttribute("data-kind");
    this.confirm.hidden = true;
    this.composer.hidden = false;
    this.toolbar.hidden = false;
  };

  Widget.prototype.showCard = function (kind, children, focusTarget) {
    var hadFocus = this.root.activeElement;
    this.card.textContent = "";
    this.card.setAttribute("data-kind", kind);
    children.forEach(function (c) { this.card.appendChild(c); }, this);
    this.card.hidden = false;
    this.composer.hidden = true;
    this.confirm.hidden = true;
    this.quick.hidden = true;
    this.toolbar.hidden = kind !== "offline";
    this.endBtn.hidden = true;
    this.humanBtn.hidden = true;
    if (this.isOpen() && (hadFocus === this.input || hadFocus === null || !this.card.contains(hadFocus))) {
      (focusTarget || this.card).focus();
    }
  };

  Widget.prototype.showOfflineForm = function () {
    var t = this.t, self = this;
    if (this.card.getAttribute("data-kind") === "offline") return;
    var heading = h("h3", { tabindex: "-1", id: "tsunagi-offline-title", text: this.online ? t.nobodyTitle : t.offlineTitle });
    var email = h("input", { type: "email", name: "email", autocomplete: "email", required: true, id: "tsunagi-email" });
    var text = h("textarea", { name: "text", rows: "4", required: true, id: "tsunagi-offline-text", maxlength: "2000" });
    var error = h("p", { class: "error", role: "alert" });
    var submit = h("button", { class: "primary", type: "submit", text: t.submit });
    var form = h("form", { novalidate: true, "aria-labelledby": "tsunagi-offline-title" }, [
      h("label", { class: "field", for: "tsunagi-email" }, [t.email, email]),
      h("label", { class: "field", for: "tsunagi-offline-text" }, [t.message, text]),
      error,
      h("div", { class: "actions" }, [submit])
    ]);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      error.textContent = "";
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.value.trim())) { error.textContent = t.emailInvalid; email.focus(); return; }
      if (!text.value.trim()) { error.textContent = t.messageMissing; text.focus(); return; }
      submit.disabled = true;
      self.ensureConversation().then(function () {
        return self.api("POST", self.path("/offline-message"), { email: email.value.trim(), text: text.value.trim() });
      }).then(function () {
        self.offlineSent = true;
        self.save();
        self.showCardMessage(self.offlineThanksText(), false);
      }).catch(function (err) {
        submit.disabled = false;
        error.textContent = err.message || t.sendError;
      });
    });
    var body = this.online ? (this.emailReplies ? t.nobodyBodyEmail : t.nobodyBody)
      : (this.emailReplies ? t.offlineBodyEmail : t.offlineBody);
    this.showCard("offline", [heading, h("p", { text: body }), form], heading);
  };

  // The thank-you after the leave-a-message form: "as soon as someone is back" inside support hours
  // (nobody was online), "when support opens" outside them; naming the e-mail when replies go there.
  Widget.prototype.offlineThanksText = function () {
    var t = this.t;
    if (this.online) return this.emailReplies ? t.nobodyThanksEmail : t.nobodyThanks;
    return this.emailReplies ? t.offlineThanksEmail : t.offlineThanks;
  };

  Widget.prototype.askEnd = function () {
    this.confirm.hidden = false;
    this.composer.hidden = true;
    this.confirm.querySelector(".primary").focus();
  };

  Widget.prototype.cancelEnd = function () {
    this.confirm.hidden = true;
    this.composer.hidden = false;
    this.input.focus();
  };

  // A radio group (native keyboard use: Tab in, arrow keys to choose). Stars light up to the
  // chosen or hovered value.
  function ratingGroup(name, legend, cls, labels, kind) {
    var inputs = [], labelEls = [];
    var group = h("div", { class: cls });
    function light(upTo) {
      labelEls.forEach(function (l, i) { l.classList.toggle("on", i < upTo); });
    }
    function chosen() {
      var checked = inputs.filter(function (i) { return i.checked; })[0];
      return checked ? Number(checked.value) : undefined;
    }
    labels.forEach(function (label, i) {
      var value = i + 1;
      var id = "tsunagi-" + name + "-" + value;
      var input = h("input", { type: "radio", name: name, value: String(value), id: id });
      var lab = kind === "stars"
        ? h("label", { for: id, title: label }, [h("span", { "aria-hidden": "true", text: "★" }), h("span", { class: "sr-only", text: label })])
        : h("label", { for: id }, [h("b", { text: String(value) }), h("span", { text: label })]);
      if (kind === "stars") {
        input.addEventListener("change", function () { light(value); });
        lab.addEventListener("mouseenter", function () { light(value); });
        lab.addEventListener("mouseleave", function () { light(chosen() || 0); });
      }
      inputs.push(input);
      labelEls.push(lab);
      group.appendChild(input);
      group.appendChild(lab);
    });
    var fieldset = h("fieldset", null, [h("legend", { text: legend }), group]);
    return { el: fieldset, value: chosen };
  }

  // "How likely are you to recommend us?": a radio group of 0-10 (Tab in, arrow keys to choose),
  // its two ends named on screen and in each end's accessible name.
  function npsGroup(t) {
    var inputs = [], row = h("div", { class: "nps" });
    for (var value = 0; value <= 10; value++) {
      var id = "tsunagi-nps-" + value;
      var input = h("input", { type: "radio", name: "nps", value: String(value), id: id });
      var end = value === 0 ? t.npsLow : value === 10 ? t.npsHigh : null;
      inputs.push(input);
      row.appendChild(input);
      row.appendChild(h("label", { for: id, title: end }, [h("span", { text: String(value) }),
        end ? h("span", { class: "sr-only", text: " " + end }) : null]));
    }
    var ends = h("div", { class: "nps-ends", "aria-hidden": "true" }, [h("span", { text: "0 " + t.npsLow }),
      h("span", { text: "10 " + t.npsHigh })]);
    var fieldset = h("fieldset", null, [h("legend", { text: t.npsLabel }), row, ends]);
    return { el: fieldset, value: function () {
      var checked = inputs.filter(function (i) { return i.checked; })[0];
      return checked ? Number(checked.value) : undefined;
    } };
  }

  Widget.prototype.showRating = function () {
    var t = this.t, self = this;
    if (this.card.getAttribute("data-kind") === "rating") return;
    // Which questions the service asks (SURVEYS); all three when it has not said.
    var surveys = this.surveys || ["csat", "ces", "nps"];
    var heading = h("h3", { tabindex: "-1", id: "tsunagi-rating-title", text: t.ratingTitle });
    var starLabels = [1, 2, 3, 4, 5].map(function (n) { return fmt(n === 1 || !t.stars ? t.star : t.stars, { n: n }); });
    var csat = ratingGroup("csat", t.csatLabel, "stars", starLabels, "stars");
    var ces = ratingGroup("ces", t.cesLabel, "scale", t.ces, "scale");
    var nps = npsGroup(t);
    var comment = h("textarea", { id: "tsunagi-comment", rows: "2", maxlength: "1000" });
    var npsComment = h("textarea", { id: "tsunagi-nps-comment", rows: "2", maxlength: "1000" });
    var error = h("p", { class: "error", role: "alert" });
    var submit = h("button", { class: "primary", type: "submit", text: t.rate });
    var skip = h("button", { class: "secondary", type: "button", text: t.skip });
    var asks = function (name) { return surveys.indexOf(name) >= 0; };
    var questions = [];
    surveys.forEach(function (name) {
      if (name === "csat") questions.push(csat.el);
      if (name === "ces") questions.push(ces.el);
      if (name === "nps") questions.push(nps.el, h("label", { class: "field", for: "tsunagi-nps-comment" }, [t.npsWhy, npsComment]));
    });
    if (asks("csat") || asks("ces")) questions.push(h("label", { class: "field", for: "tsunagi-comment" }, [t.comment, comment]));
    var form = h("form", { novalidate: true, "aria-labelledby": "tsunagi-rating-title" }, questions.concat([
      error,
      h("div", { class: "actions" }, [submit, skip])
    ]));
    function finish(body) {
      submit.disabled = skip.disabled = true;
      var go = self.conversation ? self.api("POST", self.path("/end"), body) : Promise.resolve();
      go.then(function () {
        self.rated = true;
        self.save();
        self.closeStream();
        self.status = "ended";
        self.setStatus("ended");
        self.showCardMessage(body.csat || body.ces || body.comment || body.nps !== undefined ? t.thanks : t.endedThanks, true);
      }).catch(function (err) {
        submit.disabled = skip.disabled = false;
        error.textContent = err.message || t.sendError;
      });
    }
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var body = {};
      if (csat.value()) body.csat = csat.value();
      if (ces.value()) body.ces = ces.value();
      if (comment.value.trim()) body.comment = comment.value.trim();
      if (nps.value() !== undefined) {
        body.nps = nps.value();
        if (npsComment.value.trim()) body.nps_comment = npsComment.value.trim();
      }
      finish(body);
    });
    skip.addEventListener("click", function () { finish({}); });
    this.showCard("rating", [heading, h("p", { text: t.ratingIntro }), form], heading);
  };

  Widget.prototype.showCardMessage = function (text, offerNew) {
    var self = this;
    var heading = h("h3", { tabindex: "-1", text: text });
    var children = [heading];
    if (offerNew) {
      children.push(h("div", { class: "actions" }, [h("button", {
        class: "primary", type: "button", text: this.t.newChat, onclick: function () { self.reset(); }
      })]));
    }
    this.showCard("ended", children, heading);
  };

  // Forgets the finished conversation; the next message starts a new one.
  Widget.prototype.reset = function () {
    this.closeStream();
    this.forget();
    this.conversation = null;
    this.lastEventId = null;
    this.seen = {};
    this.pending = [];
    this.buttonsBySeq = {};
    this.rated = false;
    this.offlineSent = false;
    this.agentName = null;
    this.queue = null;
    this.streamLost = false;
    this.log.textContent = "";
    this.card.removeAttribute("data-kind");
    this.setStatus(null);
    this.hideCard();
    this.updateEmptyState();
    this.input.focus();
  };

  Widget.prototype.start = function () {
    var self = this;
    window.addEventListener("online", function () { self.reconnectNow(); });
    document.addEventListener("visibilitychange", function () { if (!document.hidden) self.reconnectNow(); });
    var wasOpen = false;
    try { wasOpen = sessionStorage.getItem(this.storageKey + ":open") === "1"; } catch (e) { /* ignore */ }
    if (script.dataset.open === "true") wasOpen = true;
    this.ready = this.restore().then(function () {
      self.updateEmptyState();
      if (wasOpen) self.open();
      self.host.setAttribute("data-ready", "");
    });
    return this;
  };

  function boot() {
    var widget = new Widget(script).start();
    // Any link or button of the page marked data-tsunagi-open opens the chat (the help center's
    // "Chat with us"; its href is where a browser without this script goes).
    document.addEventListener("click", function (e) {
      var opener = e.target && e.target.closest ? e.target.closest("[data-tsunagi-open]") : null;
      if (!opener) return;
      e.preventDefault();
      widget.open();
    });
    window.TsunagiWidget = {
      open: function () { widget.open(); },
      close: function () { widget.close(); },
      reset: function () { widget.reset(); },
      get conversationId() { return widget.conversation ? widget.conversation.id : null; },
      get status() { return widget.status; }
    };
  }

  if (document.body) boot();
  else document.addEventListener("DOMContentLoaded", boot);
})();
