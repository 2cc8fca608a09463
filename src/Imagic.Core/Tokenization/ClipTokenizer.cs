using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tokenization;

/// <summary>One prompt tokenized for the CLIP text encoder.</summary>
/// <param name="Ids">Exactly <see cref="ClipTokenizer.MaxLength"/> ids: BOS, at most MaxLength − 2 prompt tokens, EOS, then padding.</param>
/// <param name="TokenCount">Prompt tokens before truncation, BOS and EOS not counted.</param>
/// <param name="Truncated">True when the prompt had more than MaxLength − 2 tokens and its tail was dropped.</param>
/// <param name="DroppedText">The decoded text of the dropped tail, for the caller's warning; empty when nothing was dropped.</param>
public sealed record TokenizedPrompt(long[] Ids, int TokenCount, bool Truncated, string DroppedText);

/// <summary>
/// The byte-level BPE tokenizer of CLIP, as used by every Stable Diffusion text encoder.
/// </summary>
/// <remarks>
/// Follows OpenAI CLIP's <c>simple_tokenizer.py</c> and Hugging Face's <c>CLIPTokenizer</c>: NFC, collapse
/// whitespace, strip, lowercase; split with CLIP's pattern; map UTF-8 bytes through GPT-2's
/// <c>bytes_to_unicode</c>; mark the end of each word with <c>&lt;/w&gt;</c>; merge pairs by rank. ftfy's mojibake
/// repair and OpenAI's HTML unescaping are not reproduced (the HF fast tokenizer skips them too).
/// The instance caches BPE results and is safe to share between threads.
/// </remarks>
public sealed class ClipTokenizer
{
    const string StartOfText = "<|startoftext|>", EndOfText = "<|endoftext|>", EndOfWord = "</w>";

    // CLIP's pre-tokenizer, in order of precedence:
    // <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
    // It is scanned by hand over runes because .NET's \p{L} does not see letters outside the BMP
    // (they are surrogate pairs), while Python's `regex` module does.
    static readonly string[] Literals = [StartOfText, EndOfText, "'s", "'t", "'re", "'ve", "'m", "'ll", "'d"];
    static readonly Regex Whitespace = new(@"\s+", RegexOptions.Compiled);

    readonly Dictionary<string, int> _vocab;
    readonly string[] _idToToken;
    readonly Dictionary<(string, string), int> _mergeRanks;
    readonly char[] _byteToChar = new char[256];
    readonly Dictionary<char, byte> _charToByte = new();
    readonly ConcurrentDictionary<string, string[]> _cache = new();

    /// <summary>Sequence length of the text encoder, from <c>model_max_length</c> (default 77).</summary>
    public int MaxLength { get; }
    public long BosId { get; }
    public long EosId { get; }
    /// <summary>49407 (<c>&lt;|endoftext|&gt;</c>) in SD 1.x, 0 (<c>!</c>) in SD 2.x.</summary>
    public long PadId { get; }
    /// <summary>The padding token's text: <c>&lt;|endoftext|&gt;</c> in SD 1.x, <c>!</c> in SD 2.x.</summary>
    public string PadToken { get; }
    public long UnkId { get; }

    ClipTokenizer(Dictionary<string, int> vocab, Dictionary<(string, string), int> mergeRanks, int maxLength,
        string bos, string eos, string pad, string unk, string configPath)
    {
        _vocab = vocab;
        _mergeRanks = mergeRanks;
        MaxLength = maxLength;
        _idToToken = new string[vocab.Values.Max() + 1];
        foreach (var (token, id) in vocab) _idToToken[id] = token;
        long IdOf(string token, string role) => vocab.TryGetValue(token, out int id) ? id
            : throw new ImagicException($"{configPath}: the {role} token '{token}' is not in vocab.json");
        (BosId, EosId, PadId, UnkId) = (IdOf(bos, "bos"), IdOf(eos, "eos"), IdOf(pad, "pad"), IdOf(unk, "unk"));
        PadToken = pad;

        // GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 bytes are
        // shifted to U+0100.., so that every byte is a visible character and BPE never sees whitespace.
        int shifted = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= '¡' and <= '¬' or >= '®' and <= 'ÿ';
            _byteToChar[b] = printable ? (char)b : (char)(256 + shifted++);
            _charToByte[_byteToChar[b]] = (byte)b;
        }
        _cache[StartOfText] = [StartOfText];
        _cache[EndOfText] = [EndOfText];
    }

    /// <summary>
    /// Loads <c>vocab.json</c>, <c>merges.txt</c> and <c>tokenizer_config.json</c> from a diffusers <c>tokenizer/</c> folder.
    /// Config defaults as in HF: <c>model_max_length</c> 77, bos <c>&lt;|startoftext|&gt;</c>, eos, pad and unk <c>&lt;|endoftext|&gt;</c>.
    /// </summary>
    /// <param name="padToken">Overrides the config's <c>pad_token</c>: a single-file SD 2.x checkpoint carries no tokenizer,
    /// and OpenCLIP's pads with <c>!</c> where the shipped CLIP files say <c>&lt;|endoftext|&gt;</c>. Default: the config's.</param>
    /// <exception cref="ImagicException">A file is missing or malformed, or a special token is not in the vocabulary.</exception>
    public static ClipTokenizer FromFolder(string tokenizerDir, string? padToken = null)
    {
        string vocabPath = Path.Combine(tokenizerDir, "vocab.json");
        string mergesPath = Path.Combine(tokenizerDir, "merges.txt");
        string configPath = Path.Combine(tokenizerDir, "tokenizer_config.json");
        foreach (var path in new[] { vocabPath, mergesPath, configPath })
            if (!File.Exists(path))
                throw new ImagicException($"Tokenizer file not found: {path}");

        var vocab = ReadJson(vocabPath, doc => doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32()));
        var ranks = new Dictionary<(string, string), int>();
        foreach (var line in File.ReadLines(mergesPath))
        {
            if (line.StartsWith("#version") || line.Length == 0) continue;
            var parts = line.Split(' ');
            if (parts.Length != 2)
                throw new ImagicException($"{mergesPath}: expected two symbols per line, got '{line}'");
            ranks.TryAdd((parts[0], parts[1]), ranks.Count); // a repeated pair keeps its first (best) rank
        }

        return ReadJson(configPath, doc =>
        {
            var root = doc.RootElement;
            string Token(string key, string fallback) =>
                !root.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null ? fallback
                : v.ValueKind == JsonValueKind.Object ? v.GetProperty("content").GetString()! // AddedToken form
                : v.GetString()!;
            int maxLength = 77;
            if (root.TryGetProperty("model_max_length", out var m) && !(m.TryGetInt32(out maxLength) && maxLength >= 3))
                throw new ImagicException($"{configPath}: model_max_length {m} is not a usable sequence length (CLIP uses 77)");
            return new ClipTokenizer(vocab, ranks, maxLength, Token("bos_token", StartOfText),
                Token("eos_token", EndOfText), padToken ?? Token("pad_token", EndOfText), Token("unk_token", EndOfText), configPath);
        });
    }

    static T ReadJson<T>(string path, Func<JsonDocument, T> read)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            return read(doc);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new ImagicException($"{path}: malformed tokenizer file ({e.Message})", e);
        }
    }

    /// <summary>Token ids of <paramref name="prompt"/> without BOS, EOS, padding or truncation.</summary>
    public List<int> Tokenize(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        string text = Whitespace.Replace(prompt.Normalize(NormalizationForm.FormC), " ").Trim().ToLowerInvariant();
        var ids = new List<int>();
        foreach (var word in PreTokenize(text))
        {
            var mapped = new StringBuilder();
            foreach (byte b in Encoding.UTF8.GetBytes(word)) mapped.Append(_byteToChar[b]);
            foreach (var symbol in Bpe(mapped.ToString()))
                ids.Add(_vocab.TryGetValue(symbol, out int id) ? id : (int)UnkId);
        }
        return ids;
    }

    /// <summary>
    /// BOS, the first <see cref="MaxLength"/> − 2 tokens, EOS, then <see cref="PadId"/> up to <see cref="MaxLength"/>:
    /// what <c>tokenizer(prompt, padding="max_length", truncation=True)</c> returns in diffusers.
    /// </summary>
    public TokenizedPrompt Encode(string prompt)
    {
        var tokens = Tokenize(prompt);
        int kept = Math.Min(tokens.Count, MaxLength - 2);
        var ids = new long[MaxLength];
        Array.Fill(ids, PadId);
        ids[0] = BosId;
        for (int k = 0; k < kept; k++) ids[1 + k] = tokens[k];
        ids[1 + kept] = EosId;
        string dropped = kept < tokens.Count ? Decode(tokens.Skip(kept).Select(id => (long)id)) : "";
        return new TokenizedPrompt(ids, tokens.Count, kept < tokens.Count, dropped);
    }

    /// <summary>Encodes each prompt with <see cref="Encode"/> into an int64 tensor [N, MaxLength] on <paramref name="device"/> (default CPU).</summary>
    public Tensor EncodeBatch(IEnumerable<string> prompts, Device? device = null) =>
        ToTensor(prompts.Select(Encode).ToList(), device);

    /// <summary>The ids of already tokenized prompts as an int64 tensor [N, MaxLength] on <paramref name="device"/> (default CPU).</summary>
    public Tensor ToTensor(IReadOnlyList<TokenizedPrompt> prompts, Device? device = null) =>
        torch.tensor(prompts.SelectMany(p => p.Ids).ToArray(), [prompts.Count, MaxLength], ScalarType.Int64, device);

    /// <summary>Text of the given ids, special tokens included; word ends become spaces, as in HF's <c>decode</c>.</summary>
    public string Decode(IEnumerable<long> ids)
    {
        var bytes = new List<byte>();
        foreach (long id in ids)
        {
            string? token = id >= 0 && id < _idToToken.Length ? _idToToken[id] : null;
            foreach (char c in token ?? throw new ArgumentOutOfRangeException(nameof(ids), id, "not an id of this vocabulary"))
                bytes.Add(_charToByte[c]);
        }
        return Encoding.UTF8.GetString(bytes.ToArray()).Replace(EndOfWord, " ").Trim();
    }

    static List<string> PreTokenize(string text)
    {
        var words = new List<string>();
        int i = 0;
        while (i < text.Length)
        {
            int start = i;
            var literal = Literals.FirstOrDefault(l => text.AsSpan(i).StartsWith(l, StringComparison.OrdinalIgnoreCase));
            if (literal is not null)
                i += literal.Length;
            else
            {
                var kind = Classify(text, i, out int length);
                i += length;
                if (kind == ' ') continue;
                // Letters and other symbols run on; a number is always a single digit.
                if (kind != 'N')
                    while (i < text.Length && Classify(text, i, out length) == kind) i += length;
            }
            words.Add(text[start..i]);
        }
        return words;
    }

    static char Classify(string text, int index, out int length)
    {
        Rune.DecodeFromUtf16(text.AsSpan(index), out var rune, out length);
        return Rune.IsWhiteSpace(rune) ? ' ' : Rune.IsLetter(rune) ? 'L' : Rune.IsNumber(rune) ? 'N' : 'P';
    }

    /// <summary>Merges the symbols of one byte-mapped word, lowest merge rank first, until no known pair is left.</summary>
    string[] Bpe(string word)
    {
        if (_cache.TryGetValue(word, out var cached)) return cached;
        var symbols = word.Select(c => c.ToString()).ToList();
        symbols[^1] += EndOfWord;
        while (symbols.Count > 1)
        {
            int bestRank = int.MaxValue, best = -1;
            for (int k = 0; k + 1 < symbols.Count; k++)
                if (_mergeRanks.TryGetValue((symbols[k], symbols[k + 1]), out int rank) && rank < bestRank)
                    (bestRank, best) = (rank, k);
            if (best < 0) break;
            var (first, second) = (symbols[best], symbols[best + 1]);
            // Every non-overlapping occurrence of the pair merges in one pass, scanning left to right.
            var merged = new List<string>(symbols.Count);
            for (int k = 0; k < symbols.Count; k++)
            {
                if (k + 1 < symbols.Count && symbols[k] == first && symbols[k + 1] == second)
                    merged.Add(first + symbols[++k]);
                else
                    merged.Add(symbols[k]);
            }
            symbols = merged;
        }
        var result = symbols.ToArray();
        _cache[word] = result;
        return result;
    }
}
