using Imagic.Models;
using Imagic.Pipelines;
using Imagic.Schedulers;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Models;

/// <summary>
/// SD 2.x features checked against their SD 1.x equivalents or their definitions, since shared/ holds
/// no SD 2.x reference: linear projections, per-block head lists, gelu, v-prediction, '!' padding.
/// </summary>
public class Sd2ArchitectureTests
{
    internal static UNet2DConditionConfig TinyUNet(bool linear, IntOrList heads) => new()
    {
        SampleSize = 8,
        BlockOutChannels = new[] { 32, 64 },
        DownBlockTypes = new[] { "CrossAttnDownBlock2D", "DownBlock2D" },
        UpBlockTypes = new[] { "UpBlock2D", "CrossAttnUpBlock2D" },
        LayersPerBlock = 1,
        CrossAttentionDim = 32,
        AttentionHeadDim = heads,
        NormNumGroups = 8,
        UseLinearProjection = linear,
        UpcastAttention = linear,
    };

    [Fact]
    public void UNet_LinearProjection_EqualsConvProjectionWithTheSameWeights()
    {
        torch.manual_seed(1);
        var conv = new UNet2DConditionModel(TinyUNet(linear: false, heads: 4));
        var linear = new UNet2DConditionModel(TinyUNet(linear: true, heads: 4));
        var linearParams = linear.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using (torch.no_grad())
            foreach (var (name, p) in conv.named_parameters())
                linearParams[name].copy_(p.reshape(linearParams[name].shape)); // proj_in/out: [o, i, 1, 1] → [o, i]
        Assert.Contains(linearParams, p => p.Key.EndsWith("proj_in.weight") && p.Value.dim() == 2);

        using var _ = torch.no_grad();
        var x = torch.randn(2, 4, 8, 8);
        var ctx = torch.randn(2, 77, 32);
        var t = torch.tensor(new long[] { 10, 900 });
        Reference.AssertClose(conv.Forward(x, t, ctx), linear.Forward(x, t, ctx), 1e-5, "linear vs conv projection");
    }

    [Fact]
    public void UNet_AttentionHeadList_GivesEachBlockItsHeads()
    {
        // SD 2.x lists heads per block (attention_head_dim: [5, 10, 20, 20]); up blocks take them reversed.
        var unet = new UNet2DConditionModel(TinyUNet(linear: true, heads: new IntOrList(new[] { 2, 8 })) with
        {
            DownBlockTypes = new[] { "CrossAttnDownBlock2D", "CrossAttnDownBlock2D" },
            UpBlockTypes = new[] { "CrossAttnUpBlock2D", "CrossAttnUpBlock2D" },
        });
        int HeadsOf(Transformer2DModel t) => t.transformer_blocks[0].attn2.Heads;
        Assert.Equal(2, HeadsOf(unet.down_blocks[0].attentions![0]));
        Assert.Equal(8, HeadsOf(unet.down_blocks[1].attentions![0]));
        Assert.Equal(8, HeadsOf(unet.mid_block!.attentions[0]));
        Assert.Equal(8, HeadsOf(unet.up_blocks[0].attentions![0]));
        Assert.Equal(2, HeadsOf(unet.up_blocks[1].attentions![0]));
    }

    [Fact]
    public void Attention_MultiHead_MatchesTheDefinition()
    {
        torch.manual_seed(2);
        var attn = new Attention(16, 12, heads: 4, dimHead: 8, bias: false);
        using var _ = torch.no_grad();
        var x = torch.randn(2, 5, 16);
        var ctx = torch.randn(2, 7, 12);

        Tensor Heads(Tensor t) => t.view(2, -1, 4, 8).transpose(1, 2);
        var q = Heads(attn.to_q.call(x));
        var k = Heads(attn.to_k.call(ctx));
        var v = Heads(attn.to_v.call(ctx));
        var weights = torch.softmax(q.matmul(k.transpose(-1, -2)).Over(Math.Sqrt(8)), -1);
        var expected = ((nn.Module<Tensor, Tensor>)attn.to_out[0]).call(weights.matmul(v).transpose(1, 2).reshape(2, 5, 32));

        Reference.AssertClose(expected, attn.Forward(x, ctx), 1e-5, "attention");
    }

    [Fact]
    public void Gelu_IsTheExactErfForm()
    {
        var x = torch.linspace(-4, 4, 101);
        var expected = x.Times(0.5) * torch.special.erf(x.Over(Math.Sqrt(2))).Plus(1);
        Reference.AssertClose(expected, Layers.Activate("gelu", x), 1e-6, "gelu");
    }

    [Fact]
    public void Sd2StylePipeline_SavesLoadsAndSamplesWithVPrediction()
    {
        // Given an SD 2.x-shaped pipeline: gelu text encoder, linear projections, head list, v-prediction, '!' padding
        var dir = TestPaths.NewTempDir();
        var tokenizerDir = Path.Combine(dir, "tok");
        Directory.CreateDirectory(tokenizerDir);
        foreach (var f in new[] { "vocab.json", "merges.txt" })
            File.Copy(Path.Combine(TestPaths.TinySd1, "tokenizer", f), Path.Combine(tokenizerDir, f));
        File.WriteAllText(Path.Combine(tokenizerDir, "tokenizer_config.json"),
            """{"model_max_length": 77, "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "!", "unk_token": "<|endoftext|>"}""");
        torch.manual_seed(3);
        var text = new ClipTextModel(new ClipTextConfig { HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 2, HiddenAct = "gelu" });
        var unet = new UNet2DConditionModel(TinyUNet(linear: true, heads: new IntOrList(new[] { 2, 4 })));
        var vae = new AutoencoderKL(new AutoencoderKLConfig
        {
            BlockOutChannels = new[] { 32, 32 },
            DownBlockTypes = new[] { "DownEncoderBlock2D", "DownEncoderBlock2D" },
            UpBlockTypes = new[] { "UpDecoderBlock2D", "UpDecoderBlock2D" },
            NormNumGroups = 8,
        });
        var scheduler = new SchedulerConfig
        {
            BetaStart = 0.00085, BetaEnd = 0.012, BetaSchedule = BetaSchedule.ScaledLinear, PredictionType = PredictionType.VPrediction,
            ClipSample = false, SetAlphaToOne = false, StepsOffset = 1,
        };
        var model = Path.Combine(dir, "sd2-tiny");
        using (var built = StableDiffusionPipeline.Create(tokenizerDir, text, unet, vae, scheduler))
        {
            built.SetTrainable(false);
            built.Save(model);
        }

        // When it is loaded back like any checkpoint
        using var pipe = StableDiffusionPipeline.Load(model);
        var tokens = pipe.Tokenizer.Encode("a cat");

        // Then its components kept the SD 2.x settings, and sampling is deterministic and finite
        Assert.Equal(0, tokens.Ids[^1]);
        Assert.Equal("gelu", pipe.TextEncoder.Config.HiddenAct);
        Assert.Equal(PredictionType.VPrediction, pipe.SchedulerConfig.PredictionType);
        Assert.True(pipe.UNet.Config.UseLinearProjection);
        var options = new SamplingOptions { Steps = 3, GuidanceScale = 4 };
        var a = pipe.Generate("a cat", "", options, seed: 5, height: 16, width: 16);
        var b = pipe.Generate("a cat", "", options, seed: 5, height: 16, width: 16);
        Assert.True(Tensors.Identical(a, b));
        Assert.False(a.isnan().any().item<bool>());
    }
}
