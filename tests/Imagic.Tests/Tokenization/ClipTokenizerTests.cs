using System.Text.Json;
using System.Text.Json.Nodes;
using Imagic.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Tokenization;

public class ClipTokenizerTests
{
    static string TokenizerDir => Path.Combine(TestPaths.TinySd1, "tokenizer");

    static readonly Lazy<ClipTokenizer> Sd1 = new(() => ClipTokenizer.FromFolder(TokenizerDir));

    static string[] ReferencePrompts()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.TinySd1, "reference.json")));
        return doc.RootElement.GetProperty("prompts").EnumerateArray().Select(p => p.GetString()!).ToArray();
    }

    static long[] ReferenceIds(int row)
    {
        using var scope = torch.NewDisposeScope();
        return Reference.Get("token_ids")[row].data<long>().ToArray();
    }

    [Fact]
    public void Encode_ReferencePrompts_MatchClipIds()
    {
        var prompts = ReferencePrompts();
        Assert.Equal(11, prompts.Length);

        for (int i = 0; i < prompts.Length; i++)
        {
            var encoded = Sd1.Value.Encode(prompts[i]);

            Assert.True(ReferenceIds(i).SequenceEqual(encoded.Ids),
                $"prompt {i} '{prompts[i]}':\n expected {string.Join(',', ReferenceIds(i))}\n actual   {string.Join(',', encoded.Ids)}");
        }
    }

    [Fact]
    public void Encode_LongPrompt_ReportsTruncationAndDroppedText()
    {
        string prompt = ReferencePrompts()[10];

        var encoded = Sd1.Value.Encode(prompt);

        Assert.True(encoded.Truncated);
        Assert.True(encoded.TokenCount > 75);
        Assert.Equal(77, encoded.Ids.Length);
        Assert.Equal(49407, encoded.Ids[76]);
        Assert.EndsWith(encoded.DroppedText, prompt);
    }

    [Fact]
    public void Encode_ShortPrompt_IsNotTruncatedAndCountsItsTokens()
    {
        var encoded = Sd1.Value.Encode("a photo of a dog standing");

        Assert.False(encoded.Truncated);
        Assert.Equal(6, encoded.TokenCount);
        Assert.Equal("", encoded.DroppedText);
    }

    [Fact]
    public void Encode_WhitespaceAndCase_AreNormalised()
    {
        var tokenizer = Sd1.Value;

        var messy = tokenizer.Encode("  A   PHOTO\tof\n a Dog ");

        Assert.Equal(tokenizer.Encode("a photo of a dog").Ids, messy.Ids);
    }

    [Fact]
    public void Decode_OfTokenize_ReturnsCleanedText()
    {
        var tokenizer = Sd1.Value;
        string prompt = "photo of a person giving the thumbs up 👍, Van Gogh's 42nd";

        string decoded = tokenizer.Decode(tokenizer.Tokenize(prompt).Select(id => (long)id));

        // "👍," is one symbol run, so no space appears before the comma.
        Assert.Equal("photo of a person giving the thumbs up 👍, van gogh 's 4 2 nd", decoded);
    }

    [Fact]
    public void EncodeBatch_TwoPrompts_ReturnsInt64Rows()
    {
        using var scope = torch.NewDisposeScope();

        var batch = Sd1.Value.EncodeBatch(["a photo of a dog standing", ""]);

        Assert.Equal(new long[] { 2, 77 }, batch.shape);
        Assert.Equal(ScalarType.Int64, batch.dtype);
        Assert.True(batch.eq(Reference.Get("token_ids").index_select(0, torch.tensor(new long[] { 0, 2 }))).all().item<bool>());
    }

    [Fact]
    public void Encode_Sd2ConfigWithBangPad_PadsWithZero()
    {
        var dir = TestPaths.NewTempDir();
        File.Copy(Path.Combine(TokenizerDir, "vocab.json"), Path.Combine(dir, "vocab.json"));
        File.Copy(Path.Combine(TokenizerDir, "merges.txt"), Path.Combine(dir, "merges.txt"));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(TokenizerDir, "tokenizer_config.json")))!;
        // SD 2.x writes special tokens as AddedToken objects and pads with "!".
        config["pad_token"] = new JsonObject { ["__type"] = "AddedToken", ["content"] = "!" };
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), config.ToJsonString());

        var tokenizer = ClipTokenizer.FromFolder(dir);
        var ids = tokenizer.Encode("a photo of a dog standing").Ids;

        Assert.Equal(0, tokenizer.PadId);
        Assert.Equal(ReferenceIds(0)[..8], ids[..8]); // BOS, six tokens, EOS
        Assert.All(ids[8..], id => Assert.Equal(0, id));
    }

    [Fact]
    public void FromFolder_MissingVocab_ThrowsNamingTheFile()
    {
        var dir = TestPaths.NewTempDir();
        File.Copy(Path.Combine(TokenizerDir, "merges.txt"), Path.Combine(dir, "merges.txt"));
        File.Copy(Path.Combine(TokenizerDir, "tokenizer_config.json"), Path.Combine(dir, "tokenizer_config.json"));

        var error = Assert.Throws<ImagicException>(() => ClipTokenizer.FromFolder(dir));

        Assert.Contains("vocab.json", error.Message);
    }
}
