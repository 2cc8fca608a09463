using Imagic.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Models;

/// <summary>Every model component against the outputs of transformers/diffusers 0.21.4 (shared/reference).</summary>
[Collection(TinySd1Collection.Name)]
public class ReferenceParityTests(TinySd1Fixture fixture)
{
    const double Tolerance = 1e-4;

    [Fact]
    public void TextEncoder_ReferenceTokenIds_MatchesLastHiddenState()
    {
        using var _ = torch.no_grad();
        var embeddings = fixture.Pipeline.TextEncoder.Forward(Reference.Get("token_ids"));
        Reference.AssertClose(Reference.Get("text_embeddings"), embeddings, Tolerance, "text_embeddings");
    }

    [Fact]
    public void TextEncoder_EncodePrompt_TokenizesAndEncodesLikeReference()
    {
        var embedding = fixture.Pipeline.EncodePrompt("a photo of a dog standing");
        Reference.AssertClose(Reference.Get("text_embeddings")[0..1], embedding, Tolerance, "prompt 0");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(500)]
    [InlineData(999)]
    public void UNet_AtTimestep_MatchesReference(long t)
    {
        using var _ = torch.no_grad();
        var output = fixture.Pipeline.UNet.Forward(Reference.Get("unet_in"), torch.tensor(new[] { t, t }), Reference.Get("unet_ctx"));
        Reference.AssertClose(Reference.Get($"unet_out_t{t}"), output, Tolerance, $"unet_out_t{t}");
    }

    [Fact]
    public void UNet_ScalarTimestep_BroadcastsOverBatch()
    {
        using var _ = torch.no_grad();
        var output = fixture.Pipeline.UNet.Forward(Reference.Get("unet_in"), torch.tensor(500L), Reference.Get("unet_ctx"));
        Reference.AssertClose(Reference.Get("unet_out_t500"), output, Tolerance, "unet_out_t500");
    }

    [Fact]
    public void Vae_Encode_MatchesPosterior()
    {
        using var _ = torch.no_grad();
        var posterior = fixture.Pipeline.Vae!.Encode(Reference.Get("vae_in"));
        Reference.AssertClose(Reference.Get("vae_mean"), posterior.Mean, Tolerance, "vae_mean");
        Reference.AssertClose(Reference.Get("vae_logvar"), posterior.LogVar, Tolerance, "vae_logvar");
    }

    [Fact]
    public void Vae_Decode_MatchesReference()
    {
        using var _ = torch.no_grad();
        var image = fixture.Pipeline.Vae!.Decode(Reference.Get("vae_dec_in"));
        Reference.AssertClose(Reference.Get("vae_dec_out"), image, Tolerance, "vae_dec_out");
    }

    [Fact]
    public void Vae_ScalingFactor_ComesFromConfig()
    {
        Assert.Equal(0.18215, fixture.Pipeline.Vae!.Config.ScalingFactor, 6);
    }

    [Theory]
    [InlineData("unet", "diffusion_pytorch_model.safetensors")]
    [InlineData("vae", "diffusion_pytorch_model.safetensors")]
    public void StateDict_KeysAndShapes_EqualCheckpoint(string component, string file)
    {
        using var weights = SafeTensorsFile.Open(Path.Combine(TestPaths.TinySd1, component, file));
        nn.Module module = component == "unet" ? fixture.Pipeline.UNet : fixture.Pipeline.Vae!;
        var parameters = module.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        Assert.Equal(weights.Entries.Count, parameters.Count);
        foreach (var (name, entry) in weights.Entries)
            Assert.Equal(entry.Shape, parameters[name]);
    }
}
