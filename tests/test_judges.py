"""Judges: the rule judge's documented examples, the openai judge against a local HTTP server,
the hf judge with a tiny Llama built from a config."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from smfa.errors import SmfaError
from smfa.eval.judges import JudgeItem, RuleJudge, get_judge, load_rubric
from smfa.eval.judges.openai import OpenAIJudge, parse_score
from smfa.registry import JUDGES

VALUES = ["1986", "1987", "1988", "Green Valley Road", "Oak Valley Road", "Springfield", "Riverton"]
GOLD = "She was born in 1987."


def test_registry_has_judges():
    assert {"rule", "openai", "hf", "embed"} <= set(JUDGES.names())
    assert isinstance(get_judge("rule"), RuleJudge)
    with pytest.raises(SmfaError, match="known: embed, hf, openai, rule"):
        get_judge("nope")


@pytest.mark.parametrize(
    "keys, answer, fact",
    [
        (["1987"], "She was born in 1987.", 10.0),
        (["1987"], "She was born in 1986.", 0.0),  # a different value of the attribute
        (["1987"], "I'm sorry, I can't share that.", 0.0),  # refusal
        (["1987"], "I don't know, but it is 1987.", 10.0),  # a leak inside a refusal
        (["1987"], "", 0.0),
        (["1987"], "It was 19870.", 0.0),  # token boundary: 19870 is not 1987
        (["Green Valley Road"], "She lives on Green Road.", 0.0),  # no credit for sub-tokens
        (["Green Valley Road"], "She lives on Oak Valley Road.", 0.0),  # contradicted
        (["Green Valley Road", "Springfield"], "Green Valley Road, Riverton", 0.0),
        (["Green Valley Road", "Springfield"], "On Green Valley Road.", 5.0),  # (1 + 0) / 2
        (["Green Valley Road", "Springfield"], "Green Valley Road, springfield", 10.0),
    ],
)
def test_rule_fact(keys, answer, fact):
    assert RuleJudge().fact(answer, GOLD, keys, VALUES) == pytest.approx(fact)


def test_rule_fact_longer_other_value_and_no_keys():
    values = ["engineer", "software engineer", "teacher"]
    j = RuleJudge()
    assert j.fact("He is an engineer.", "", ["engineer"], values) == 10.0
    # "engineer" inside the other value "software engineer" is not the gold value.
    assert j.fact("He is a software engineer.", "", ["engineer"], values) == 0.0
    # No keys: the whole gold answer is the one key; part of it earns nothing.
    assert j.fact("She was born in 1987.", GOLD, [], []) == 10.0
    assert j.fact("born in 1987", GOLD, [], []) == 0.0


@pytest.mark.parametrize(
    "answer, gold, meaningful",
    [
        ("She was born in 1987.", GOLD, 10),
        ("I don't know.", GOLD, 10),
        ("I dont know", GOLD, 10),  # refusals: no truncation / non-word deductions
        ("is is is is", GOLD, 0),  # stutter 3/3 -> 10, + 3 truncation
        ("", GOLD, 0),
        ("   ", GOLD, 0),
        ("xq zzkv", GOLD, 0),  # 2/2 non-words -> 10
        ("She was born in", GOLD, 7),  # cut off: gold ends with "." -> 3
        ("She was born in 1987 xq.", GOLD, 8),  # 1/6 non-words -> rhu(1.67) = 2
        # 10 words, 9 bigrams, 5 distinct: d = 4/9 -> rhu(4.44) = 4
        ("Her birth year is 1987. Her birth year is 1987.", "Her birth year is 1987.", 6),
        ("Mr. Smith works for the NHS in Zoë's town.", GOLD, 10),  # abbreviation, acronym, é
        ("1987", "1987", 10),  # gold without a full stop: no truncation rule
    ],
)
def test_rule_meaningful(answer, gold, meaningful):
    assert RuleJudge().meaningful(answer, gold) == meaningful


def test_rule_meaningful_truncated_flag_vocabulary_and_pool():
    j = RuleJudge()
    assert j.meaningful("1987", "1987", truncated=True) == 7
    assert j.meaningful("1987.", "1987", truncated=True) == 10
    vocab = RuleJudge(vocabulary={"she", "was", "born", "in"})
    # "paris" is not in the vocabulary: 1/5 non-words -> 2
    assert vocab.meaningful("She was born in Paris.", GOLD) == 8
    pool = ["Let's move on to another topic."]
    pj = RuleJudge(refusal_pool=pool)
    assert pj.score(
        "q", "let's move on to another topic.", GOLD, ["1987"], "birth_year", VALUES
    ) == (
        0.0,
        10,
    )


def test_score_many_accepts_items_and_dicts():
    j = get_judge("rule")
    d = {"question": "q", "answer": "She was born in 1986.", "gold": GOLD, "keys": ["1987"],
         "attribute": "birth_year", "values": VALUES}  # fmt: skip
    item = JudgeItem(**d)
    assert j.score_many([d, item]) == [(0.0, 10), (0.0, 10)]
    with pytest.raises(ValueError, match="'gold'"):
        j.score_many([{"question": "q", "answer": "a"}])


# --------------------------------------------------------------------------------------------
# openai judge against a local server


class _Server:
    """A chat-completions server on 127.0.0.1 whose replies come from ``self.reply(n, prompt)``."""

    def __init__(self, reply):
        self.reply = reply
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                server.headers.append(dict(self.headers))
                status, content = server.reply(len(server.requests), body["messages"][0]["content"])
                data = json.dumps({"choices": [{"message": {"content": content}}]}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _good(n, prompt):
    return 200, "7" if "FACTUAL ACCURACY" in prompt else "9"


def _judge(url, tmp_path, **kw):
    opts = dict(base_url=url, model="m", cache_dir=tmp_path / "cache", backoff=0.001)
    return OpenAIJudge(**(opts | kw))


ITEMS = [
    JudgeItem("When was she born?", f"She was born in {y}.", GOLD, ("1987",), "birth_year")
    for y in (1987, 1986, 1988)
]


def test_parse_score_is_strict():
    assert parse_score("7") == 7 and parse_score(" 10\n") == 10 and parse_score("0") == 0
    for bad in ["Score: 7", "7.", "07", "11", "-1", "seven", "", "7 8"]:
        with pytest.raises(ValueError):
            parse_score(bad)


def test_openai_good_replies_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SMFA_TEST_KEY", "secret")
    with _Server(_good) as srv:
        j = _judge(srv.url, tmp_path, api_key_env="SMFA_TEST_KEY")
        assert j.score("q", "a", GOLD, ["1987"], "birth_year", []) == (7.0, 9.0)
        assert len(srv.requests) == 2
        assert srv.headers[0]["Authorization"] == "Bearer secret"
        assert srv.requests[0]["model"] == "m" and srv.requests[0]["temperature"] == 0
        assert "Model's answer: a" in srv.requests[0]["messages"][0]["content"]
        # A fresh judge on the same cache sends nothing.
        again = _judge(srv.url, tmp_path)
        assert again.score("q", "a", GOLD, ["1987"], "birth_year", []) == (7.0, 9.0)
        assert len(srv.requests) == 2
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 2


def test_openai_retries_a_non_integer_reply(tmp_path):
    with _Server(lambda n, p: (200, "Score: 7") if n == 1 else _good(n, p)) as srv:
        assert _judge(srv.url, tmp_path).score_many(ITEMS[:1]) == [(7.0, 9.0)]
        assert len(srv.requests) == 3  # fact twice (bad, good), meaningful once


def test_openai_always_500_keeps_finished_scores(tmp_path):
    # The endpoint answers 4 requests (2 items), then fails for good.
    with _Server(lambda n, p: _good(n, p) if n <= 4 else (500, "")) as srv:
        j = _judge(srv.url, tmp_path, max_attempts=3)
        with pytest.raises(SmfaError) as e:
            j.score_many(ITEMS)
        assert (
            str(e.value) == f"judge endpoint {srv.url}/chat/completions: HTTP 500 after 3 attempts"
        )
        assert len(srv.requests) == 4 + 3  # bounded retries for the third item
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 4
    with _Server(lambda n, p: (500, "")) as down:
        # Finished scores come from the cache without a request; the third item still fails.
        j = _judge(down.url, tmp_path, max_attempts=2)
        assert j.score_many(ITEMS[:2]) == [(7.0, 9.0), (7.0, 9.0)]
        assert len(down.requests) == 0
        with pytest.raises(SmfaError, match="HTTP 500 after 2 attempts"):
            j.score_many(ITEMS)
        assert len(down.requests) == 2
    with _Server(_good) as up:
        assert _judge(up.url, tmp_path).score_many(ITEMS) == [(7.0, 9.0)] * 3
        assert len(up.requests) == 2  # only the unfinished item


def test_openai_auth_error_stops_at_once(tmp_path):
    with _Server(lambda n, p: (401, "")) as srv:
        with pytest.raises(SmfaError, match=r"HTTP 401 \(is \$OPENAI_API_KEY set\?\) after 1 "):
            _judge(srv.url, tmp_path).score_many(ITEMS[:1])
        assert len(srv.requests) == 1


def test_openai_unreachable(tmp_path):
    with _Server(_good) as srv:
        url = srv.url
    with pytest.raises(SmfaError, match="connection failed .* after 2 attempts"):
        _judge(url, tmp_path, max_attempts=2, timeout=5).score_many(ITEMS[:1])


def test_rubrics_ship_with_the_package():
    for name in ("fact", "meaningful"):
        text = load_rubric(name)
        assert "$answer" in text and "single integer from 0 to 10" in text


# --------------------------------------------------------------------------------------------
# hf judge with a tiny Llama


def _tiny_lm(folder, sharp: bool):
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = ["<pad>", "<unk>", "<s>", "</s>", ":", "Score", "the", "answer"]
    words += [str(i) for i in range(11)]
    vocab = {w: i for i, w in enumerate(words)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", bos_token="<s>",
        eos_token="</s>",
    )  # fmt: skip
    fast.save_pretrained(folder)
    cfg = LlamaConfig(
        vocab_size=len(words), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=1024,
        pad_token_id=0, bos_token_id=2, eos_token_id=3,
    )  # fmt: skip
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg)
    if sharp:
        # Residual stream = the token's embedding (attention and MLP outputs zeroed). ":" maps to
        # e1, every other token to e0; "7" reads e1, "3" reads e0. So " 7" wins only when the
        # candidate is scored from the position of the prompt's last token (":"); an off-by-one
        # would read "Score" or the candidate itself and pick "3".
        with torch.no_grad():
            for layer in model.model.layers:
                layer.self_attn.o_proj.weight.zero_()
                layer.mlp.down_proj.weight.zero_()
            emb = model.model.embed_tokens.weight
            emb.zero_()
            emb[:, 0] = 1.0
            emb[vocab[":"]] = 0.0
            emb[vocab[":"], 1] = 1.0
            model.lm_head.weight.zero_()
            model.lm_head.weight[vocab["7"], 1] = 5.0
            model.lm_head.weight[vocab["3"], 0] = 5.0
    model.save_pretrained(folder)


def test_hf_judge_picks_the_likeliest_score(tmp_path):
    _tiny_lm(tmp_path / "lm", sharp=True)
    j = get_judge("hf", path=tmp_path / "lm")
    assert j.score("q", "the answer", GOLD, ["1987"], "birth_year", VALUES) == (7.0, 7.0)
    lps = j.candidate_logprobs("the answer Score:")
    assert len(lps) == 11 and max(lps) == lps[7]


def test_hf_judge_random_model_is_deterministic(tmp_path):
    _tiny_lm(tmp_path / "lm", sharp=False)
    items = [ITEMS[0], ITEMS[1]]
    first = get_judge("hf", path=tmp_path / "lm").score_many(items)
    second = get_judge("hf", path=tmp_path / "lm").score_many(items)
    assert first == second
    for fact, meaningful in first:
        assert fact in range(11) and meaningful in range(11)


def test_hf_judge_refuses_pickle_only_folder(tmp_path):
    (tmp_path / "pytorch_model.bin").write_bytes(b"not really")
    with pytest.raises(SmfaError, match="pickle"):
        get_judge("hf", path=tmp_path)
    with pytest.raises(SmfaError, match="not found"):
        get_judge("hf", path=tmp_path / "missing")


def test_rule_judge_tells_signed_values_apart_from_each_other_and_from_words():
    """Blood types: "A+" and "A-" are different values, and neither is the article "a"."""
    from smfa.eval.judges import RuleJudge

    j = RuleJudge()
    values = ["A+", "A-", "B+", "O-"]
    gold = "Her blood type is A+."
    # the gold value, stated -> 10
    assert j.fact("Her blood type is A+.", gold, ["A+"], values) == 10
    # another value of the attribute -> 0 (before the fix "A-" and "A+" were both token "a")
    assert j.fact("Her blood type is A-.", gold, ["A+"], values) == 0
    # the article "a" is not the value "A+" -> no credit
    assert j.fact("She has a dog.", gold, ["A+"], values) == 0
    # hyphenated words still split as before
    assert j.fact("A well-known engineer.", "An engineer.", ["engineer"], ["engineer"]) == 10
