using Imagic.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Models;

/// <summary><c>addition_embed_type: "text"</c>: the pooled caption added to the timestep embedding (Imagen, DeepFloyd IF).</summary>
public class TextTimeEmbeddingTests
{
    static UNet2DConditionConfig TinyUNet(string? additionEmbedType) =>
        Sd2ArchitectureTests.TinyUNet(linear: false, heads: 4) with { AdditionEmbedType = additionEmbedType, AdditionEmbedTypeNumHeads = 4 };

    [Fact]
    public void AttentionPooling_MatchesItsDefinition()
    {
        torch.manual_seed(5);
        const int heads = 4, width = 32, length = 7;
        var pool = new AttentionPooling(heads, width);
        using var _ = torch.no_grad();
        var x = torch.randn(2, length, width);
        var pooled = pool.call(x);
        Assert.Equal(new long[] { 2, width }, pooled.shape);

        // Per sequence and head, written out: the query is the mean token plus the offset; the keys and
        // values are the query token followed by every token; softmax(q·k / √d) weighs the values.
        int d = width / heads;
        for (int b = 0; b < 2; b++)
        {
            var query = x[b].mean(new long[] { 0 }, keepdim: true).Plus(pool.positional_embedding);
            var tokens = torch.cat(new[] { query, x[b] }, 0);
            var q = pool.q_proj.call(query);
            var k = pool.k_proj.call(tokens);
            var v = pool.v_proj.call(tokens);
            for (int h = 0; h < heads; h++)
            {
                var qh = q[.., (h * d)..((h + 1) * d)];
                var kh = k[.., (h * d)..((h + 1) * d)];
                var vh = v[.., (h * d)..((h + 1) * d)];
                var weights = torch.softmax(qh.matmul(kh.T).Over(Math.Sqrt(d)), 1);
                Reference.AssertClose(weights.matmul(vh).squeeze(0), pooled[b, (h * d)..((h + 1) * d)], 1e-5, $"sequence {b}, head {h}");
            }
        }
    }

    [Fact]
    public void TextTimeEmbedding_WithZeroOutput_GivesThePlainUNet_AndOtherwiseChangesIt()
    {
        torch.manual_seed(4);
        var plain = new UNet2DConditionModel(TinyUNet(null));
        var text = new UNet2DConditionModel(TinyUNet("text"));
        Assert.NotNull(text.add_embedding);
        var textParams = text.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.Contains("add_embedding.pool.positional_embedding", textParams.Keys);
        Assert.Contains("add_embedding.norm2.weight", textParams.Keys);
        using (torch.no_grad())
        {
            foreach (var (name, p) in plain.named_parameters())
                textParams[name].copy_(p);
            textParams["add_embedding.norm2.weight"].zero_();
            textParams["add_embedding.norm2.bias"].zero_();
        }

        using var _ = torch.no_grad();
        var x = torch.randn(2, 4, 8, 8);
        var ctx = torch.randn(2, 77, 32);
        var t = torch.tensor(new long[] { 10, 900 });
        Reference.AssertClose(plain.Forward(x, t, ctx), text.Forward(x, t, ctx), 1e-6, "zero text-time embedding");

        using (torch.no_grad())
            textParams["add_embedding.norm2.weight"].FillWith(1);
        Assert.True((text.Forward(x, t, ctx) - plain.Forward(x, t, ctx)).abs().max().item<float>() > 1e-3);
    }

    [Fact]
    public void AdditionEmbedType_Text_RoundTrips_OtherKindsAreRefused()
    {
        var json = ModelConfigJson.Write(TinyUNet("text"));
        string path = Path.Combine(Path.GetTempPath(), $"imagic-textemb-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        try
        {
            var config = UNet2DConditionConfig.FromFile(path);
            Assert.Equal("text", config.AdditionEmbedType);
            Assert.Equal(4, config.AdditionEmbedTypeNumHeads);

            File.WriteAllText(path, json.Replace("\"text\"", "\"text_time\""));
            Assert.Contains("addition_embed_type", Assert.Throws<ImagicException>(() => UNet2DConditionConfig.FromFile(path)).Message);

            File.WriteAllText(path, json.Replace("\"addition_embed_type_num_heads\": 4", "\"addition_embed_type_num_heads\": 5"));
            Assert.Contains("addition_embed_type_num_heads", Assert.Throws<ImagicException>(() => UNet2DConditionConfig.FromFile(path)).Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
