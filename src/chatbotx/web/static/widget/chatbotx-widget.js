/*!
 * ChatbotX webchat widget. Embed with one tag:
 *   <script src="https://chat.example.com/widget/chatbotx-widget.js" data-inbox-identifier="..." async></script>
 * Optional, before it: window.chatbotxSettings = {user: {identifier, identifierHash, email, name}, position,
 * strings}; after it: window.$chatbotx.setUser({...}), .reset(), .open(), .close(), .toggle(), .isOpen().
 * Documented in docs/widget.md.
 * Talks only to the server it was loaded from (/public/api/v1/inboxes/{identifier}/...), lives in a Shadow DOM
 * and keeps the visitor's session in localStorage under "chatbotx:<inbox identifier>". No build step.
 */
(function () {
  "use strict";

  if (window.$chatbotx && window.$chatbotx.__loaded) return;

  var SCRIPT_NAME = "chatbotx-widget.js";
  var script =
    document.currentScript ||
    document.querySelector('script[data-inbox-identifier][src*="' + SCRIPT_NAME + '"]');
  if (!script) return;
  var inboxIdentifier = script.getAttribute("data-inbox-identifier");
  if (!inboxIdentifier) {
    console.error("ChatbotX widget: the script tag needs data-inbox-identifier");
    return;
  }
  // The API lives where this file came from: https://host[/prefix]/widget/chatbotx-widget.js -> https://host[/prefix]
  var scriptUrl = new URL(script.src, document.baseURI);
  var apiBase =
    scriptUrl.origin + scriptUrl.pathname.replace(/\/widget\/[^/]*$/, "").replace(/\/$/, "");
  var inboxUrl = apiBase + "/public/api/v1/inboxes/" + encodeURIComponent(inboxIdentifier);
  var STORE_KEY = "chatbotx:" + inboxIdentifier;
  var TYPING_IDLE_MS = 3000;
  var AGENT_TYPING_MAX_MS = 30000;
  var HISTORY_PAGE = 20; // messages per page of GET .../messages
  var HIDDEN_STREAM_MS = 60000;
  var queued = []; // API calls made before the widget finished booting

  // ---------------------------------------------------------------- storage (never throws: private modes)

  var memoryStore = {};
  function loadSession() {
    var raw = null;
    try {
      raw = window.localStorage.getItem(STORE_KEY);
    } catch (e) {
      raw = memoryStore[STORE_KEY] || null;
    }
    if (!raw) return {};
    try {
      var parsed = JSON.parse(raw);
      return parsed && typeof parsed === "object" ? parsed : {};
    } catch (e) {
      return {};
    }
  }
  function saveSession() {
    var raw = JSON.stringify(session);
    try {
      window.localStorage.setItem(STORE_KEY, raw);
    } catch (e) {
      memoryStore[STORE_KEY] = raw;
    }
  }
  function clearSession() {
    session = {};
    try {
      window.localStorage.removeItem(STORE_KEY);
    } catch (e) {
      delete memoryStore[STORE_KEY];
    }
  }

  // ---------------------------------------------------------------- state

  var settings = window.chatbotxSettings || {};
  var user = normalizeUser(settings.user);
  var session = loadSession(); // {sourceId, pubsubToken, contactId, conversationId, identifier, email, open, emailDismissed}
  var inbox = null;
  var ui = null;
  var events = null;
  var messageNodes = {}; // message id -> element
  var pendingNodes = {}; // echo_id -> element (sent, not yet confirmed)
  var unread = 0;
  var fatal = null; // an error that stops the widget from chatting (identity refused)
  var contactPromise = null;
  var conversationPromise = null;
  var typingTimer = null;
  var typingOn = false;
  var agentTypingTimer = null;
  var olderCursor = null; // the oldest message id shown, while older ones may exist
  var loadingOlder = false;

  function normalizeUser(u) {
    if (!u || typeof u !== "object") return null;
    var out = {};
    ["identifier", "identifierHash", "email", "name"].forEach(function (k) {
      if (u[k] !== undefined && u[k] !== null && String(u[k]) !== "") out[k] = String(u[k]);
    });
    return Object.keys(out).length ? out : null;
  }

  // ---------------------------------------------------------------- HTTP

  function ApiFailure(status, body) {
    this.status = status;
    this.body = body || {};
    this.message = (body && (body.message || body.error)) || "HTTP " + status;
  }

  function request(method, path, body) {
    var init = { method: method, mode: "cors", credentials: "omit", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(inboxUrl + path, init).then(
      function (res) {
        return res.text().then(function (text) {
          var data = null;
          if (text) {
            try {
              data = JSON.parse(text);
            } catch (e) {
              data = { message: text };
            }
          }
          if (!res.ok) throw new ApiFailure(res.status, data);
          return data;
        });
      },
      function () {
        throw new ApiFailure(0, { message: "network error" });
      }
    );
  }

  function listOf(data) {
    if (Array.isArray(data)) return data;
    if (data && Array.isArray(data.payload)) return data.payload;
    if (data && Array.isArray(data.data)) return data.data;
    return [];
  }

  function contactPath() {
    return "/contacts/" + encodeURIComponent(session.sourceId);
  }
  function conversationPath() {
    return contactPath() + "/conversations/" + encodeURIComponent(session.conversationId);
  }

  // Ids are time-ordered 64-bit integers sent as strings: compare them without losing precision.
  function compareIds(a, b) {
    a = String(a);
    b = String(b);
    if (a.length !== b.length) return a.length - b.length;
    return a < b ? -1 : a > b ? 1 : 0;
  }

  // ---------------------------------------------------------------- session: contact and conversation

  function ensureContact() {
    if (fatal) return Promise.reject(fatal);
    if (session.sourceId && session.pubsubToken) return Promise.resolve(session);
    if (contactPromise) return contactPromise;
    var body = {};
    if (user) {
      if (user.identifier) body.identifier = user.identifier;
      if (user.identifierHash) body.identifier_hash = user.identifierHash;
      if (user.email) body.email = user.email;
      if (user.name) body.name = user.name;
    }
    contactPromise = request("POST", "/contacts", body)
      .catch(function (err) {
        // Two page loads of the same identified visitor created it at the same instant: it exists now.
        if (err.status === 409) return request("POST", "/contacts", body);
        throw err;
      })
      .then(function (contact) {
        session = {
          sourceId: String(contact.source_id),
          pubsubToken: String(contact.pubsub_token),
          contactId: contact.id != null ? String(contact.id) : null,
          identifier: user && user.identifier ? user.identifier : null,
          email: contact.email || null,
          open: session.open || false,
        };
        saveSession();
        connectEvents();
        // A recognized visitor (identified by the site) may already have a conversation: show it.
        return request("GET", contactPath() + "/conversations").then(
          function (list) {
            var latest = pickConversation(listOf(list));
            if (latest && !session.conversationId) {
              session.conversationId = String(latest.id);
              saveSession();
              return loadHistory().then(function () {
                return session;
              });
            }
            return session;
          },
          function () {
            return session;
          }
        );
      })
      .catch(function (err) {
        if (identityRefused(err)) setFatal(t("identityRefused"));
        throw err;
      })
      .finally(function () {
        contactPromise = null;
      });
    return contactPromise;
  }

  // The server would not accept the visitor's identity (a wrong or missing HMAC when the inbox demands one).
  function identityRefused(err) {
    if (!err) return false;
    if (err.status === 401 || err.status === 403) return true;
    var data = (err.body && err.body.data) || {};
    var fields = (data.errors || []).map(function (e) {
      return e && e.field;
    });
    return err.status === 422 && /identifier/.test(fields.concat(data.field, err.message).join(" "));
  }

  function pickConversation(list) {
    var best = null;
    list.forEach(function (c) {
      if (!c || c.id == null) return;
      var open = c.status !== "resolved";
      var bestOpen = best && best.status !== "resolved";
      if (!best || (open && !bestOpen) || (open === bestOpen && compareIds(c.id, best.id) > 0)) best = c;
    });
    return best;
  }

  function ensureConversation() {
    return ensureContact().then(function () {
      if (session.conversationId) return session;
      if (conversationPromise) return conversationPromise;
      conversationPromise = request("POST", contactPath() + "/conversations", {})
        .then(function (conversation) {
          session.conversationId = String(conversation.id);
          saveSession();
          return session;
        })
        .finally(function () {
          conversationPromise = null;
        });
      return conversationPromise;
    });
  }

  // The stored session no longer exists on the server (contact or inbox deleted): start afresh.
  function forgetStaleSession() {
    closeEvents();
    var wasOpen = session.open;
    clearSession();
    session.open = wasOpen;
    saveSession();
    clearMessages();
  }

  // A 404 for the conversation alone (an agent deleted it) keeps the visitor; any other 404 (the visitor or
  // the inbox is gone) starts afresh.
  function forgetStaleConversation(err) {
    var code = err && err.body && err.body.code;
    if (code === "CONVERSATION_NOT_FOUND") {
      delete session.conversationId;
      saveSession();
      clearMessages();
    } else {
      forgetStaleSession();
    }
  }

  // The newest page of the conversation (the server answers up to HISTORY_PAGE messages, oldest first).
  // catchUp: after time away from the stream, so a new agent reply counts as unread while the panel is closed.
  function loadHistory(catchUp) {
    if (!session.sourceId || !session.conversationId) return Promise.resolve();
    return request("GET", conversationPath() + "/messages").then(
      function (data) {
        var list = sortedMessages(data);
        if (olderCursor === null && list.length >= HISTORY_PAGE) olderCursor = String(list[0].id);
        list.forEach(function (m) {
          renderMessage(m, { quiet: !catchUp });
        });
        updateEmailPrompt();
        markSeen();
      },
      function (err) {
        if (err.status === 404) forgetStaleConversation(err);
        else if (identityRefused(err)) forgetStaleSession();
      }
    );
  }

  // Scrolled to the top: the page before the oldest message shown, keeping what the visitor sees in place.
  function loadOlder() {
    if (!olderCursor || loadingOlder || !session.conversationId) return;
    loadingOlder = true;
    var path = conversationPath() + "/messages?before=" + encodeURIComponent(olderCursor);
    request("GET", path)
      .then(function (data) {
        var list = sortedMessages(data);
        olderCursor = list.length >= HISTORY_PAGE ? String(list[0].id) : null;
        var log = ui.log;
        var fromBottom = log.scrollHeight - log.scrollTop;
        list.forEach(function (m) {
          renderMessage(m, { quiet: true, older: true });
        });
        log.scrollTop = log.scrollHeight - fromBottom;
      })
      .catch(noop)
      .finally(function () {
        loadingOlder = false;
      });
  }

  function sortedMessages(data) {
    return listOf(data)
      .filter(function (m) {
        return m && m.id != null;
      })
      .sort(function (a, b) {
        return compareIds(a.id, b.id);
      });
  }

  // ---------------------------------------------------------------- realtime (Server-Sent Events)

  function connectEvents(catchUp) {
    if (events || !session.sourceId || !session.pubsubToken || typeof EventSource === "undefined") return;
    var url =
      inboxUrl + contactPath() + "/events?pubsub_token=" + encodeURIComponent(session.pubsubToken);
    var source = new EventSource(url);
    source.catchUp = !!catchUp;
    var hadError = false;
    events = source;
    source.addEventListener("open", function () {
      if (hadError || source.catchUp) {
        hadError = false;
        source.catchUp = false;
        loadHistory(true); // catch up on anything said while we were away (merged by message id)
      }
      setOffline(false);
    });
    source.addEventListener("error", function () {
      hadError = true;
      if (source.readyState === EventSource.CLOSED) {
        // The server refused the stream (HTTP error): check whether our session still exists.
        events = null;
        request("GET", contactPath()).then(
          function () {
            setTimeout(connectEvents, 5000, true);
          },
          function (err) {
            if (err.status === 404 || err.status === 401 || err.status === 403) forgetStaleSession();
            else setTimeout(connectEvents, 5000, true);
          }
        );
      }
      setOffline(true);
    });
    source.addEventListener("message.created", function (e) {
      var m = parse(e.data);
      if (m && belongsHere(m)) {
        if (m.message_type === 1 || m.message_type === 3) setAgentTyping(false);
        renderMessage(m, {});
      }
    });
    source.addEventListener("message.updated", function (e) {
      var m = parse(e.data);
      // An update of a message not shown yet means its creation was missed (a reconnect): it is new here.
      if (m && belongsHere(m)) renderMessage(m, {});
    });
    source.addEventListener("conversation.typing_on", function (e) {
      var c = parse(e.data);
      if (!c || sameConversation(c)) setAgentTyping(true);
    });
    source.addEventListener("conversation.typing_off", function (e) {
      var c = parse(e.data);
      if (!c || sameConversation(c)) setAgentTyping(false);
    });
    source.addEventListener("conversation.status_changed", function (e) {
      var c = parse(e.data);
      if (c && sameConversation(c) && ui) ui.panel.setAttribute("data-status", String(c.status || ""));
    });
  }

  function closeEvents() {
    if (events) events.close();
    events = null;
  }

  function parse(data) {
    try {
      return JSON.parse(data);
    } catch (e) {
      return null;
    }
  }

  function sameConversation(c) {
    var id = c.conversation_id != null ? c.conversation_id : c.id;
    return id == null || !session.conversationId || String(id) === String(session.conversationId);
  }

  function belongsHere(m) {
    if (m.conversation_id == null) return true;
    if (!session.conversationId) {
      // An agent started the conversation (or our POST has not answered yet): adopt it.
      session.conversationId = String(m.conversation_id);
      saveSession();
      return true;
    }
    return String(m.conversation_id) === String(session.conversationId);
  }

  // ---------------------------------------------------------------- sending

  var echoCounter = 0;
  function newEchoId() {
    echoCounter += 1;
    var random =
      window.crypto && window.crypto.randomUUID
        ? window.crypto.randomUUID()
        : Date.now().toString(36) + Math.random().toString(36).slice(2);
    return "cbx-" + random + "-" + echoCounter;
  }

  function send(text) {
    text = String(text || "").trim();
    if (!text || fatal) return Promise.resolve();
    var echoId = newEchoId();
    var node = renderPending(text, echoId);
    setTyping(false);
    return deliver(text, echoId, node);
  }

  function deliver(text, echoId, node) {
    node.classList.remove("cbx-failed");
    node.classList.add("cbx-pending");
    setNodeStatus(node, t("sending"));
    return ensureConversation()
      .then(function () {
        return request("POST", conversationPath() + "/messages", { content: text, echo_id: echoId });
      })
      .then(function (message) {
        if (message && message.id != null) renderMessage(message, { quiet: true });
        updateEmailPrompt();
      })
      .catch(function (err) {
        if (err && err.status === 404 && session.sourceId) forgetStaleConversation(err);
        if (identityRefused(err)) {
          // The inbox now demands identified visitors (or refused this one): this session is over.
          forgetStaleSession();
          setFatal(t("identityRefused"));
        }
        if (!node.isConnected && ui) {
          pendingNodes[echoId] = node; // the stale session's messages went; this one is still the visitor's
          placeInLog(node, null);
        }
        node.classList.remove("cbx-pending");
        node.classList.add("cbx-failed");
        var meta = setNodeStatus(node, t("notSent"));
        if (!fatal) {
          // Sent again with the same echo_id: if the first try did reach the server, it is not stored twice.
          var retry = el("button", { type: "button", class: "cbx-retry", text: t("retry") });
          retry.addEventListener("click", function () {
            deliver(text, echoId, node);
          });
          meta.appendChild(document.createTextNode(" "));
          meta.appendChild(retry);
        }
      });
  }

  function setTyping(on) {
    if (typingTimer) clearTimeout(typingTimer);
    typingTimer = null;
    if (on) typingTimer = setTimeout(setTyping, TYPING_IDLE_MS, false);
    if (on === typingOn || !session.conversationId || !session.sourceId) return;
    typingOn = on;
    request("POST", conversationPath() + "/toggle_typing", { typing_status: on ? "on" : "off" }).catch(
      function () {}
    ); // typing is a hint: losing one is harmless
  }

  // The visitor has seen the conversation (open panel, visible tab): the agents see when the visitor last read.
  var seenTimer = null;
  function markSeen() {
    if (seenTimer || !isOpen() || !session.sourceId || !session.conversationId) return;
    if (document.visibilityState === "hidden") return;
    seenTimer = setTimeout(function () {
      seenTimer = null;
      if (session.conversationId) request("POST", conversationPath() + "/update_last_seen").catch(noop);
    }, 1000);
  }

  function leaveEmail(email) {
    return ensureContact()
      .then(function () {
        return request("PATCH", contactPath(), { email: email });
      })
      .then(function (contact) {
        session.email = (contact && contact.email) || email;
        saveSession();
        return session.email;
      });
  }

  // ---------------------------------------------------------------- strings

  var STRINGS = {
    openChat: "Open chat",
    closeChat: "Close chat",
    unread: function (n) {
      return n === 1 ? "1 unread message" : n + " unread messages";
    },
    placeholder: "Type your message…",
    messageLabel: "Your message",
    send: "Send message",
    sending: "Sending…",
    notSent: "Not sent.",
    retry: "Retry",
    agent: "Support",
    typing: "typing…",
    offline: "Reconnecting…",
    emailTitle: "Get notified by email",
    emailHelp: "Leave your email so we can reply even if you leave this page.",
    emailLabel: "Your email",
    attachment: "attachment",
    image: "image",
    emailSave: "Save email",
    save: "Save",
    emailDismiss: "Dismiss",
    emailSaved: function (e) {
      return "Thanks! We'll reply to " + e + ".";
    },
    emailInvalid: "That doesn't look like an email address.",
    emailFailed: "Could not save your email. Please try again.",
    identityRefused: "This chat could not verify who you are, so it is not available here.",
    unavailable: "The chat is not available right now.",
  };
  function t(key) {
    var custom = settings.strings && settings.strings[key];
    var value = typeof custom === "string" ? custom : STRINGS[key];
    if (typeof value === "function") return value.apply(null, Array.prototype.slice.call(arguments, 1));
    return value;
  }

  // ---------------------------------------------------------------- colour

  // Only a #rgb/#rrggbb colour is used (the value goes into CSS); anything else falls back to the default.
  function parseColor(value) {
    var m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(String(value || "").trim());
    if (!m) return null;
    var hex = m[1].length === 3 ? m[1].replace(/(.)/g, "$1$1") : m[1];
    return "#" + hex.toLowerCase();
  }
  function textColorOn(hex) {
    var n = parseInt(hex.slice(1), 16);
    var channels = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map(function (c) {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    var luminance = 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2];
    return luminance > 0.4 ? "#111827" : "#ffffff";
  }

  // ---------------------------------------------------------------- DOM

  var CSS = [
    // !important on :host: the page's own rules match the host element, and only important shadow rules win.
    ":host{all:initial!important;display:block!important;position:fixed!important;z-index:2147483000!important;",
    "bottom:20px!important;right:20px!important;left:auto!important;top:auto!important;",
    "font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif!important;",
    "color:#111827!important}",
    ":host([data-position=left]){right:auto!important;left:20px!important}",
    "*,*::before,*::after{box-sizing:border-box}",
    "[hidden]{display:none!important}",
    "button{font:inherit;cursor:pointer}",
    ".cbx-bubble{position:relative;width:60px;height:60px;border-radius:50%;border:0;padding:0;",
    "background:var(--cbx-color);color:var(--cbx-on-color);box-shadow:0 6px 20px rgba(0,0,0,.22);",
    "display:flex;align-items:center;justify-content:center;transition:transform .15s ease}",
    ".cbx-bubble:hover{transform:scale(1.06)}",
    ".cbx-bubble:focus-visible,.cbx-icon-button:focus-visible,.cbx-send:focus-visible,.cbx-email button:focus-visible",
    "{outline:3px solid #2563eb;outline-offset:2px}",
    ".cbx-bubble svg{width:28px;height:28px;fill:currentColor}",
    ".cbx-badge{position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;",
    "background:#dc2626;color:#fff;font-size:12px;font-weight:700;line-height:22px;text-align:center;",
    "border:2px solid #fff}",
    ".cbx-panel{position:absolute;bottom:76px;right:0;width:370px;height:560px;",
    "max-height:calc(100vh - 120px);background:#fff;border-radius:16px;overflow:hidden;",
    "box-shadow:0 12px 40px rgba(0,0,0,.25);display:flex;flex-direction:column}",
    ":host([data-position=left]) .cbx-panel{right:auto;left:0}",
    ".cbx-header{background:var(--cbx-color);color:var(--cbx-on-color);padding:14px 12px 14px 18px;",
    "display:flex;align-items:center;gap:8px}",
    ".cbx-title{flex:1;margin:0;font-size:16px;font-weight:600;overflow:hidden;text-overflow:ellipsis;",
    "white-space:nowrap}",
    ".cbx-status{font-size:12px;opacity:.85}",
    ".cbx-icon-button{background:transparent;border:0;color:inherit;width:34px;height:34px;border-radius:8px;",
    "display:flex;align-items:center;justify-content:center}",
    ".cbx-icon-button:hover{background:rgba(255,255,255,.18)}",
    ".cbx-icon-button svg{width:20px;height:20px;fill:currentColor}",
    ".cbx-alert{margin:0;padding:10px 14px;background:#fef2f2;color:#991b1b;border-bottom:1px solid #fecaca;",
    "font-size:13px}",
    ".cbx-log{flex:1;overflow-y:auto;padding:16px 14px;display:flex;flex-direction:column;gap:6px;",
    "background:#f9fafb;margin:0;list-style:none}",
    ".cbx-msg{max-width:80%;display:flex;flex-direction:column}",
    ".cbx-msg .cbx-text{padding:8px 12px;border-radius:14px;white-space:pre-wrap;overflow-wrap:anywhere}",
    ".cbx-in{align-self:flex-end;align-items:flex-end}",
    ".cbx-in .cbx-text{background:var(--cbx-color);color:var(--cbx-on-color);border-bottom-right-radius:4px}",
    ".cbx-in .cbx-text a{color:inherit}",
    ".cbx-out{align-self:flex-start;align-items:flex-start}",
    ".cbx-out .cbx-text{background:#fff;color:#111827;border:1px solid #e5e7eb;border-bottom-left-radius:4px}",
    ".cbx-out .cbx-text a{color:#1d4ed8}",
    ".cbx-activity{align-self:center;max-width:90%;color:#6b7280;font-size:12px;text-align:center}",
    ".cbx-sender{font-size:11px;color:#6b7280;margin:6px 4px 2px}",
    ".cbx-meta{font-size:11px;color:#6b7280;margin:2px 4px 0}",
    ".cbx-pending .cbx-text{opacity:.7}",
    ".cbx-retry{border:0;background:none;padding:0;color:#b91c1c;font-size:11px;font-weight:600;",
    "text-decoration:underline}",
    ".cbx-failed .cbx-text{opacity:.6}",
    ".cbx-failed .cbx-meta{color:#b91c1c}",
    ".cbx-greeting .cbx-text{background:#fff}",
    ".cbx-attachment{display:block;margin-top:4px;max-width:100%}",
    ".cbx-attachment img{max-width:220px;max-height:220px;border-radius:10px;display:block}",
    ".cbx-choices{display:flex;flex-wrap:wrap;gap:6px;margin-top:6px}",
    ".cbx-choices button,.cbx-choices a{border:1px solid var(--cbx-color);background:#fff;color:#111827;",
    "border-radius:16px;padding:4px 12px;font-size:13px;text-decoration:none}",
    ".cbx-choices a::after{content:' \\2197';font-size:11px}",
    ".cbx-quick button{background:#fff;background:color-mix(in srgb,var(--cbx-color) 10%,#fff)}",
    ".cbx-choices button:hover,.cbx-choices a:hover{background:color-mix(in srgb,var(--cbx-color) 18%,#fff)}",
    ".cbx-typing{align-self:flex-start;color:#6b7280;font-size:12px;padding:2px 6px}",
    ".cbx-email{margin:6px 0;padding:12px;border:1px solid #e5e7eb;border-radius:12px;background:#fff;",
    "align-self:stretch}",
    ".cbx-email p{margin:0 0 8px}",
    ".cbx-email-title{font-weight:600}",
    ".cbx-email form{display:flex;gap:6px}",
    ".cbx-email input{flex:1;min-width:0;font:inherit;padding:7px 10px;border:1px solid #d1d5db;border-radius:8px;",
    "color:#111827;background:#fff}",
    ".cbx-email button{border:0;border-radius:8px;padding:7px 12px;background:var(--cbx-color);",
    "color:var(--cbx-on-color)}",
    ".cbx-email .cbx-link{background:transparent;color:#6b7280;padding:4px 0 0;text-decoration:underline}",
    ".cbx-email-error{color:#b91c1c;font-size:12px;margin:6px 0 0}",
    ".cbx-composer{display:flex;align-items:flex-end;gap:8px;padding:10px 12px;border-top:1px solid #e5e7eb;",
    "background:#fff}",
    ".cbx-composer textarea{flex:1;resize:none;border:1px solid #d1d5db;border-radius:10px;padding:8px 10px;",
    "font:inherit;color:#111827;background:#fff;max-height:120px;min-height:38px}",
    ".cbx-composer textarea:focus{outline:2px solid var(--cbx-color);outline-offset:0;border-color:transparent}",
    ".cbx-send{width:38px;height:38px;border-radius:10px;border:0;background:var(--cbx-color);",
    "color:var(--cbx-on-color);display:flex;align-items:center;justify-content:center;flex:none}",
    ".cbx-composer textarea:disabled{background:#f3f4f6;color:#9ca3af;cursor:not-allowed}",
    ".cbx-send:disabled{opacity:.45;cursor:default}",
    ".cbx-send svg{width:18px;height:18px;fill:currentColor}",
    ".cbx-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
    "@media (max-width:480px){:host{bottom:12px!important;right:12px!important}",
    ".cbx-panel{position:fixed;inset:0;width:auto;height:auto;max-height:none;border-radius:0}",
    // The panel covers the screen and has its own close button: the bubble would hide the send button.
    ".cbx-bubble[aria-expanded=true]{display:none}}",
    "@media (prefers-reduced-motion:reduce){.cbx-bubble{transition:none}}",
  ].join("");

  var ICON_CHAT =
    '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M12 3C6.5 3 2 6.9 2 11.7c0 2.5 1.2 4.7 3.2 6.3L4.5 ' +
    '21.5l4-2.1c1.1.3 2.3.5 3.5.5 5.5 0 10-3.9 10-8.7S17.5 3 12 3z"/></svg>';
  var ICON_CLOSE =
    '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M18.3 5.7a1 1 0 0 0-1.4 0L12 10.6 7.1 5.7a1 1 0 ' +
    '0 0-1.4 1.4l4.9 4.9-4.9 4.9a1 1 0 1 0 1.4 1.4l4.9-4.9 4.9 4.9a1 1 0 0 0 1.4-1.4L13.4 12l4.9-4.9a1 1 0 ' +
    '0 0 0-1.4z"/></svg>';
  var ICON_SEND =
    '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M3.4 20.4 21 12 3.4 3.6 3.4 10.1 15 12 3.4 13.9z"/></svg>';

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "text") node.textContent = attrs[k];
        else if (k === "html") node.innerHTML = attrs[k]; // only our own constant icons
        else if (attrs[k] !== null && attrs[k] !== undefined) node.setAttribute(k, attrs[k]);
      });
    }
    (children || []).forEach(function (c) {
      if (c) node.appendChild(c);
    });
    return node;
  }

  function build() {
    var host = el("div", { id: "chatbotx-widget", "data-inbox-identifier": inboxIdentifier });
    if (settings.position === "left") host.setAttribute("data-position", "left");
    var color = parseColor(inbox.widgetColor) || "#1f93ff";
    host.style.setProperty("--cbx-color", color);
    host.style.setProperty("--cbx-on-color", textColorOn(color));
    var root = host.attachShadow({ mode: "open" });
    // A constructed stylesheet is not an inline <style>, so a site whose Content-Security-Policy forbids
    // 'unsafe-inline' styles still shows the widget styled; older browsers get the <style> element.
    var sheet = null;
    try {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } catch (e) {
      sheet = null;
    }
    if (!sheet) root.appendChild(el("style", { text: CSS }));

    var panelId = "cbx-panel";
    var title = inbox.name || "Chat";
    var bubble = el("button", {
      type: "button",
      class: "cbx-bubble",
      "aria-label": t("openChat"),
      "aria-expanded": "false",
      "aria-controls": panelId,
      html: ICON_CHAT,
    });
    var badge = el("span", { class: "cbx-badge", hidden: "", "aria-hidden": "true" });
    bubble.appendChild(badge);

    var closeButton = el("button", {
      type: "button",
      class: "cbx-icon-button cbx-close",
      "aria-label": t("closeChat"),
      html: ICON_CLOSE,
    });
    var status = el("span", { class: "cbx-status", hidden: "", role: "status", text: t("offline") });
    var header = el("div", { class: "cbx-header" }, [
      el("h2", { class: "cbx-title", id: "cbx-title", text: title }),
      status,
      closeButton,
    ]);
    var alert = el("p", { class: "cbx-alert", role: "alert", hidden: "" });
    var log = el("ol", { class: "cbx-log", role: "log", "aria-live": "polite", "aria-label": title });
    var typing = el("li", { class: "cbx-typing", hidden: "", "aria-live": "polite" });
    log.appendChild(typing);
    if (inbox.greeting) {
      var greeting = messageElement("out", String(inbox.greeting), null, null);
      greeting.classList.add("cbx-greeting");
      log.insertBefore(greeting, typing);
    }
    var textarea = el("textarea", {
      rows: "1",
      id: "cbx-input",
      placeholder: t("placeholder"),
      "aria-label": t("messageLabel"),
    });
    var sendButton = el("button", {
      type: "submit",
      class: "cbx-send",
      "aria-label": t("send"),
      disabled: "",
      html: ICON_SEND,
    });
    var composer = el("form", { class: "cbx-composer" }, [textarea, sendButton]);
    var panel = el(
      "div",
      { class: "cbx-panel", id: panelId, role: "dialog", "aria-labelledby": "cbx-title", hidden: "" },
      [header, alert, log, composer]
    );
    root.appendChild(panel);
    root.appendChild(bubble);

    bubble.addEventListener("click", function () {
      toggle();
    });
    closeButton.addEventListener("click", function () {
      close(true);
    });
    panel.addEventListener("keydown", function (e) {
      if (e.key === "Escape") {
        e.preventDefault();
        close(true);
      }
    });
    textarea.addEventListener("input", function () {
      sendButton.disabled = !textarea.value.trim() || !!fatal;
      textarea.style.height = "auto";
      textarea.style.height = Math.min(textarea.scrollHeight, 120) + "px";
      if (textarea.value.trim()) setTyping(true);
    });
    log.addEventListener("scroll", function () {
      if (log.scrollTop < 40) loadOlder();
    });
    textarea.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        submit();
      }
    });
    composer.addEventListener("submit", function (e) {
      e.preventDefault();
      submit();
    });
    function submit() {
      var text = textarea.value;
      if (!text.trim() || fatal) return;
      textarea.value = "";
      textarea.style.height = "auto";
      sendButton.disabled = true;
      send(text);
      textarea.focus();
    }

    (document.body || document.documentElement).appendChild(host);
    return {
      host: host,
      root: root,
      bubble: bubble,
      badge: badge,
      panel: panel,
      status: status,
      alert: alert,
      log: log,
      typing: typing,
      textarea: textarea,
      sendButton: sendButton,
      emailCard: null,
    };
  }

  function linkify(parent, text) {
    var re = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;
    var last = 0;
    var m;
    while ((m = re.exec(text))) {
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      parent.appendChild(el("a", { href: m[0], target: "_blank", rel: "noopener noreferrer", text: m[0] }));
      last = m.index + m[0].length;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function safeUrl(url) {
    try {
      var parsed = new URL(String(url), apiBase);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  function messageElement(side, content, message, senderName) {
    var li = el("li", { class: "cbx-msg cbx-" + side });
    if (senderName) li.appendChild(el("span", { class: "cbx-sender", text: senderName }));
    if (content) {
      var bubble = el("div", { class: "cbx-text" });
      linkify(bubble, content);
      li.appendChild(bubble);
    }
    if (message) {
      (message.attachments || []).forEach(function (a) {
        if (!a || typeof a !== "object") return;
        var name = a.name || a.filename || t("attachment");
        var url = safeUrl(a.data_url || a.file_url || a.url);
        if (!url) {
          // A file the server gives no address for: the visitor still learns that something was sent.
          li.appendChild(el("span", { class: "cbx-attachment", text: "📎 " + name }));
          return;
        }
        var link = el("a", { class: "cbx-attachment", href: url, target: "_blank", rel: "noopener noreferrer" });
        var type = a.content_type || a.contentType || "";
        var isImage = a.file_type === "image" || /^image\//.test(type) || /\.(png|jpe?g|gif|webp)$/i.test(url);
        if (isImage) link.appendChild(el("img", { src: safeUrl(a.thumb_url) || url, alt: a.name || t("image") }));
        else link.textContent = "📎 " + name;
        li.appendChild(link);
      });
      [
        { list: buttonsOf(message), quick: false },
        { list: quickRepliesOf(message), quick: true },
      ].forEach(function (group) {
        if (!group.list.length) return;
        var box = el("div", { class: "cbx-choices" + (group.quick ? " cbx-quick" : "") });
        group.list.forEach(function (c) {
          var href = c.url ? safeUrl(c.url) : null;
          if (href) {
            box.appendChild(el("a", { href: href, target: "_blank", rel: "noopener noreferrer", text: c.title }));
            return;
          }
          var b = el("button", { type: "button", text: c.title });
          b.addEventListener("click", function () {
            if (fatal) return;
            if (group.quick) box.remove(); // a quick reply is answered once
            send(c.title);
          });
          box.appendChild(b);
        });
        li.appendChild(box);
      });
      if (message.created_at) {
        var when = new Date(Number(message.created_at) * 1000);
        var time = el("time", {
          class: "cbx-meta",
          datetime: when.toISOString(),
          text: when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }),
        });
        li.appendChild(time);
      }
    }
    return li;
  }

  // Buttons ({title, payload} or {title, url}) and quick replies (objects or plain titles) an agent or bot
  // attached: our content attributes, or Chatwoot's input_select `items`.
  function choices(raw) {
    return (Array.isArray(raw) ? raw : [])
      .map(function (c) {
        if (typeof c === "string" && c) return { title: c };
        return c && c.title ? { title: String(c.title), url: c.url || null } : null;
      })
      .filter(Boolean);
  }
  function buttonsOf(message) {
    var attrs = message.content_attributes || {};
    return choices([].concat(attrs.buttons || [], attrs.items || []));
  }
  function quickRepliesOf(message) {
    var attrs = message.content_attributes || {};
    return choices(attrs.quickReplies || attrs.quick_replies);
  }

  function setNodeStatus(node, text) {
    var meta = node.querySelector(".cbx-meta");
    if (!meta) {
      meta = el("span", { class: "cbx-meta" });
      node.appendChild(meta);
    }
    meta.textContent = text;
    return meta;
  }

  function renderPending(text, echoId) {
    var node = messageElement("in", text, null, null);
    node.setAttribute("data-echo-id", echoId);
    node.classList.add("cbx-pending");
    pendingNodes[echoId] = node;
    placeInLog(node, null);
    refreshQuickReplies();
    ui.log.scrollTop = ui.log.scrollHeight;
    return node;
  }

  function senderNameOf(m) {
    var s = m.sender || {};
    return s.available_name || s.name || (s.type === "bot" || s.type === "agent_bot" ? inbox.name : t("agent"));
  }

  function renderMessage(m, opts) {
    if (!ui || !m || m.id == null) return;
    if (m.private) return;
    var id = String(m.id);
    var type = Number(m.message_type);
    var side = type === 0 ? "in" : type === 2 ? "activity" : "out";
    var existing = messageNodes[id];
    var pending = m.echo_id ? pendingNodes[m.echo_id] : null;
    if (existing && pending) {
      // Shown already (the stream was faster than our POST's answer): the optimistic copy goes.
      pending.remove();
      delete pendingNodes[m.echo_id];
      pending = null;
    }
    if (existing && m.content === existing.getAttribute("data-content")) return; // already shown, unchanged
    var node =
      side === "activity"
        ? el("li", { class: "cbx-activity", text: String(m.content || "") })
        : messageElement(side, m.content ? String(m.content) : "", m, null);
    node.setAttribute("data-id", id);
    node.setAttribute("data-content", String(m.content || ""));
    node.setAttribute("data-message-type", String(type));
    if (side === "out") node.setAttribute("data-sender", senderNameOf(m));
    var replaced = existing || pending;
    if (replaced) {
      replaced.replaceWith(node);
      if (pending) delete pendingNodes[m.echo_id];
    } else {
      var log = ui.log;
      var atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 60;
      placeInLog(node, id);
      if (!opts.older && (atBottom || side === "in")) log.scrollTop = log.scrollHeight;
      if (!opts.quiet && side === "out") {
        if (isOpen()) markSeen();
        else {
          unread += 1;
          renderBadge();
        }
      }
    }
    refreshQuickReplies();
    messageNodes[id] = node;
    labelSender(node);
    if (node.nextElementSibling) labelSender(node.nextElementSibling);
    groupTimes(node);
    if (node.previousElementSibling) groupTimes(node.previousElementSibling);
  }

  // One time under a run of messages from the same side in the same minute: on its last message.
  function groupTimes(node) {
    var time = node.querySelector && node.querySelector("time.cbx-meta");
    if (!time) return;
    var next = node.nextElementSibling;
    var nextTime = next && next.querySelector("time.cbx-meta");
    var sameRun =
      nextTime &&
      next.classList.contains("cbx-in") === node.classList.contains("cbx-in") &&
      next.getAttribute("data-sender") === node.getAttribute("data-sender") &&
      nextTime.textContent === time.textContent;
    time.hidden = !!sameRun;
  }

  // Quick replies are offered on the newest message only: once the conversation moved on they are stale.
  function refreshQuickReplies() {
    var boxes = ui.log.querySelectorAll(".cbx-quick");
    if (!boxes.length) return;
    var messages = ui.log.querySelectorAll(".cbx-msg[data-id], .cbx-msg[data-echo-id]");
    var newest = messages[messages.length - 1];
    Array.prototype.forEach.call(boxes, function (box) {
      box.hidden = box.parentNode !== newest;
    });
  }

  // Messages stay in id order (ids are time-ordered) whatever order they arrive in: history, the stream, and
  // older pages. Messages not yet confirmed (no id) come after every confirmed one.
  function placeInLog(node, id) {
    var log = ui.log;
    var children = log.children;
    for (var i = 0; i < children.length; i++) {
      var child = children[i];
      var childId = child.getAttribute("data-id");
      var unconfirmed = child.hasAttribute("data-echo-id") && !childId;
      if ((id !== null && childId && compareIds(childId, id) > 0) || (id !== null && unconfirmed)) {
        log.insertBefore(node, child);
        return;
      }
    }
    var anchor = ui.emailCard && ui.emailCard.parentNode === log ? ui.emailCard : ui.typing;
    log.insertBefore(node, anchor);
  }

  // An agent's or bot's name above the first of their consecutive messages.
  function labelSender(node) {
    var name = node.getAttribute && node.getAttribute("data-sender");
    if (!name) return;
    var previous = node.previousElementSibling;
    var show = !previous || previous.getAttribute("data-sender") !== name;
    var label = node.querySelector(".cbx-sender");
    if (show && !label) node.insertBefore(el("span", { class: "cbx-sender", text: name }), node.firstChild);
    if (!show && label) label.remove();
  }

  function clearMessages() {
    if (!ui) return;
    Object.keys(messageNodes).forEach(function (id) {
      messageNodes[id].remove();
    });
    Object.keys(pendingNodes).forEach(function (id) {
      pendingNodes[id].remove();
    });
    messageNodes = {};
    pendingNodes = {};
    olderCursor = null;
    if (ui.emailCard) ui.emailCard.remove();
    ui.emailCard = null;
  }

  function setAgentTyping(on) {
    if (!ui) return;
    if (agentTypingTimer) clearTimeout(agentTypingTimer);
    agentTypingTimer = null;
    ui.typing.textContent = on ? (inbox.name || t("agent")) + " " + t("typing") : "";
    ui.typing.hidden = !on;
    if (on) {
      agentTypingTimer = setTimeout(setAgentTyping, AGENT_TYPING_MAX_MS, false);
      ui.log.scrollTop = ui.log.scrollHeight;
    }
  }

  function setOffline(offline) {
    if (ui) ui.status.hidden = !offline;
  }

  function setFatal(message) {
    fatal = new ApiFailure(403, { message: message });
    if (!ui) return;
    ui.alert.textContent = message;
    ui.alert.hidden = false;
    ui.textarea.disabled = true;
    ui.sendButton.disabled = true;
    ui.host.setAttribute("data-state", "error");
  }

  function renderBadge() {
    if (!ui) return;
    ui.badge.hidden = unread === 0;
    ui.badge.textContent = unread > 9 ? "9+" : String(unread);
    var label = isOpen() ? t("closeChat") : t("openChat");
    ui.bubble.setAttribute("aria-label", unread ? label + ", " + t("unread", unread) : label);
  }

  // The "leave your email" card: after the visitor's first message, until they leave one or dismiss it.
  function updateEmailPrompt() {
    if (!ui) return;
    var visitorSpoke = Object.keys(messageNodes).some(function (id) {
      return messageNodes[id].classList.contains("cbx-in");
    });
    var wanted = visitorSpoke && !session.email && !session.emailDismissed && !fatal;
    if (!wanted) {
      if (ui.emailCard && !ui.emailCard.getAttribute("data-done")) {
        ui.emailCard.remove();
        ui.emailCard = null;
      }
      return;
    }
    if (ui.emailCard) return;
    var input = el("input", {
      type: "email",
      name: "email",
      autocomplete: "email",
      required: "",
      placeholder: "name@example.com",
      "aria-label": t("emailLabel"),
    });
    var save = el("button", { type: "submit", text: t("save"), "aria-label": t("emailSave") });
    var error = el("p", { class: "cbx-email-error", role: "alert", hidden: "" });
    var form = el("form", { novalidate: "" }, [input, save]);
    var dismiss = el("button", { type: "button", class: "cbx-link", text: t("emailDismiss") });
    var card = el("li", { class: "cbx-email", "aria-label": t("emailTitle") }, [
      el("p", { class: "cbx-email-title", text: t("emailTitle") }),
      el("p", { text: t("emailHelp") }),
      form,
      error,
      dismiss,
    ]);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var email = input.value.trim();
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
        error.textContent = t("emailInvalid");
        error.hidden = false;
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      save.disabled = true;
      leaveEmail(email).then(
        function (saved) {
          card.setAttribute("data-done", "true");
          card.replaceChildren(el("p", { role: "status", text: t("emailSaved", saved) }));
        },
        function (err) {
          save.disabled = false;
          error.textContent = err && err.status === 422 ? t("emailInvalid") : t("emailFailed");
          error.hidden = false;
          input.setAttribute("aria-invalid", "true");
        }
      );
    });
    dismiss.addEventListener("click", function () {
      session.emailDismissed = true;
      saveSession();
      card.remove();
      ui.emailCard = null;
      ui.textarea.focus();
    });
    ui.emailCard = card;
    ui.log.insertBefore(card, ui.typing);
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  // ---------------------------------------------------------------- open / close

  function isOpen() {
    return !!ui && !ui.panel.hidden;
  }

  function open() {
    if (!ui) return;
    ui.panel.hidden = false;
    ui.bubble.setAttribute("aria-expanded", "true");
    ui.bubble.innerHTML = ICON_CLOSE;
    ui.bubble.appendChild(ui.badge);
    unread = 0;
    renderBadge();
    session.open = true;
    if (session.sourceId) saveSession();
    ui.log.scrollTop = ui.log.scrollHeight;
    if (!fatal) ui.textarea.focus();
    markSeen();
    // An identified visitor is recognized at once (and sees their earlier conversation); an anonymous one only
    // becomes a contact when they write.
    if (user && user.identifier && !session.sourceId) ensureContact().catch(reportBootError);
  }

  function close(returnFocus) {
    if (!ui) return;
    ui.panel.hidden = true;
    ui.bubble.setAttribute("aria-expanded", "false");
    ui.bubble.innerHTML = ICON_CHAT;
    ui.bubble.appendChild(ui.badge);
    renderBadge();
    session.open = false;
    if (session.sourceId) saveSession();
    setTyping(false);
    if (returnFocus) ui.bubble.focus();
  }

  function toggle() {
    if (isOpen()) close(true);
    else open();
  }

  function reportBootError(err) {
    if (fatal) return;
    if (err && !identityRefused(err) && ui && isOpen()) {
      ui.alert.textContent = t("unavailable");
      ui.alert.hidden = false;
    }
  }

  // ---------------------------------------------------------------- identity

  function setUser(next) {
    var normalized = normalizeUser(next);
    var sameIdentity =
      (normalized && normalized.identifier ? normalized.identifier : null) === (session.identifier || null);
    user = normalized;
    if (!sameIdentity && session.sourceId) {
      // Another person on this browser: their conversation is not this one.
      closeEvents();
      var wasOpen = session.open;
      clearSession();
      session.open = wasOpen;
      clearMessages();
    }
    fatal = null;
    if (ui) {
      ui.alert.hidden = true;
      ui.textarea.disabled = false;
      ui.host.removeAttribute("data-state");
    }
    if (user && user.identifier && (isOpen() || !sameIdentity)) return ensureContact().then(noop, reportBootError);
    if (sameIdentity && session.sourceId && user && user.email && user.email !== session.email) {
      return leaveEmail(user.email).then(noop, noop);
    }
    return Promise.resolve();
  }

  function reset() {
    closeEvents();
    clearSession();
    clearMessages();
    user = null;
    fatal = null;
    unread = 0;
    renderBadge();
    if (ui) {
      ui.alert.hidden = true;
      ui.textarea.disabled = false;
      ui.host.removeAttribute("data-state");
    }
  }

  function noop() {}

  // ---------------------------------------------------------------- public API and boot

  function call(name, args) {
    if (!ui) {
      return new Promise(function (resolve) {
        queued.push(function () {
          resolve(api[name].apply(null, args));
        });
      });
    }
    return api[name].apply(null, args);
  }

  var api = {
    setUser: setUser,
    reset: reset,
    open: open,
    close: function () {
      close(false);
    },
    toggle: toggle,
  };

  window.$chatbotx = {
    __loaded: true,
    inboxIdentifier: inboxIdentifier,
    setUser: function (u) {
      return call("setUser", [u]);
    },
    reset: function () {
      return call("reset", []);
    },
    open: function () {
      return call("open", []);
    },
    close: function () {
      return call("close", []);
    },
    toggle: function () {
      return call("toggle", []);
    },
    isOpen: isOpen,
  };

  var bootDelay = 5000;
  function boot() {
    request("GET", "").then(
      function (config) {
        inbox = config || {};
        ui = build();
        // A session stored by an earlier page view for another identity is not this visitor's.
        var identifier = user && user.identifier ? user.identifier : null;
        if (session.sourceId && (session.identifier || null) !== identifier) {
          var wasOpen = session.open;
          clearSession();
          session.open = wasOpen;
        }
        if (session.sourceId) {
          connectEvents();
          loadHistory();
        }
        if (session.open) open();
        queued.splice(0).forEach(function (fn) {
          fn();
        });
        ui.host.setAttribute("data-ready", "true");
        window.dispatchEvent(new CustomEvent("chatbotx:ready", { detail: { inboxIdentifier: inboxIdentifier } }));
      },
      function (err) {
        console.error("ChatbotX widget: could not load inbox " + inboxIdentifier + ": " + err.message);
        // The server unreachable or failing: try again later. A 4xx (a wrong identifier) will not change.
        if (err.status === 0 || err.status >= 500 || err.status === 429) {
          setTimeout(boot, bootDelay);
          bootDelay = Math.min(bootDelay * 2, 300000);
        }
      }
    );
  }

  // A browser opens at most 6 connections to a server over HTTP/1.1, and every tab's stream holds one: a tab
  // hidden for a minute lets its stream go, and catches up when it is shown again.
  var hiddenTimer = null;
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      if (!hiddenTimer) {
        hiddenTimer = setTimeout(function () {
          hiddenTimer = null;
          if (document.visibilityState === "hidden") closeEvents();
        }, HIDDEN_STREAM_MS);
      }
      return;
    }
    clearTimeout(hiddenTimer);
    hiddenTimer = null;
    if (!events && ui && session.sourceId) connectEvents(true);
    markSeen();
  });

  if (document.body) boot();
  else document.addEventListener("DOMContentLoaded", boot);
})();
