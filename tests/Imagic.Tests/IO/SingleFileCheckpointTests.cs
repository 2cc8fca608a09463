using Imagic.IO;
using Imagic.Models;
using Imagic.Pipelines;
using Imagic.Schedulers;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.IO;

public class SingleFileCheckpointTests
{
    static readonly string Tokenizer = Path.Combine(TestPaths.TinySd1, "tokenizer");

    static Dictionary<string, Tensor> StateOf(StableDiffusionPipeline pipe) =>
        new (string Prefix, nn.Module Module)[] { ("text_encoder.", pipe.TextEncoder), ("unet.", pipe.UNet), ("vae.", pipe.Vae!) }
            .SelectMany(c => c.Module.named_parameters().Select(p => (c.Prefix + p.name, p.parameter)))
            .ToDictionary(p => p.Item1, p => (Tensor)p.Item2);

    static void AssertSameTensors(StableDiffusionPipeline expected, StableDiffusionPipeline actual)
    {
        var a = StateOf(expected);
        var b = StateOf(actual);
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (key, tensor) in a)
            Assert.True(Tensors.Identical(tensor, b[key]), $"{key} differs");
    }

    [Fact]
    public void Sd1TinySingleFile_LoadsTheSameTensorsAsItsFolder()
    {
        // Given the tiny SD 1.x reference written as one LDM-layout file
        var file = SingleFileTestData.Sd1TinyFile();

        // When it is loaded with the folder's configs
        using var folder = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        using var single = StableDiffusionPipeline.Load(file, new PipelineLoadOptions { ConfigDir = TestPaths.TinySd1 });

        // Then every parameter equals the folder's, and the tokenizer and scheduler are the folder's
        AssertSameTensors(folder, single);
        Assert.Equal(folder.Tokenizer.PadId, single.Tokenizer.PadId);
        Assert.Equal(folder.SchedulerConfig, single.SchedulerConfig);
    }

    [Fact]
    public void Sd1SingleFile_HasTheOriginalKeyNames()
    {
        // Given the tiny SD 1.x reference written as one file
        var file = SingleFileTestData.Sd1TinyFile();

        // When its keys are listed
        using var st = SafeTensorsFile.Open(file);

        // Then they are the CompVis names, with the VAE's attention stored as 1x1 convolutions
        Assert.Contains("model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight", st.Entries.Keys);
        Assert.Contains("model.diffusion_model.input_blocks.3.0.op.weight", st.Entries.Keys);
        Assert.Contains("model.diffusion_model.output_blocks.5.2.conv.weight", st.Entries.Keys);
        Assert.Contains("model.diffusion_model.output_blocks.2.1.conv.weight", st.Entries.Keys);
        Assert.Contains("model.diffusion_model.middle_block.2.out_layers.3.weight", st.Entries.Keys);
        Assert.Contains("model.diffusion_model.time_embed.2.bias", st.Entries.Keys);
        Assert.Contains("first_stage_model.decoder.up.0.block.2.conv2.weight", st.Entries.Keys);
        Assert.Contains("first_stage_model.encoder.norm_out.weight", st.Entries.Keys);
        Assert.Contains("cond_stage_model.transformer.text_model.final_layer_norm.weight", st.Entries.Keys);
        Assert.Equal(4, st.Entries["first_stage_model.decoder.mid.attn_1.q.weight"].Shape.Length);
    }

    [Fact]
    public void Sd2TinySingleFile_LoadsTheSameTensorsAsItsFolder_AndPadsWithExclamationMarks()
    {
        // Given an SD 2.x-shaped folder written as one file with OpenCLIP's fused q/k/v
        var folderPath = SingleFileTestData.Sd2TinyFolder();
        var file = SingleFileTestData.ToSingleFile(folderPath, LdmTextLayout.OpenClip);
        using (var st = SafeTensorsFile.Open(file))
            Assert.Equal(new long[] { 96, 32 }, st.Entries["cond_stage_model.model.transformer.resblocks.1.attn.in_proj_weight"].Shape);

        // When it is loaded with the folder's configs but without its tokenizer
        var configs = TestPaths.NewTempDir();
        foreach (var c in new[] { "unet", "vae", "text_encoder" })
        {
            Directory.CreateDirectory(Path.Combine(configs, c));
            File.Copy(Path.Combine(folderPath, c, "config.json"), Path.Combine(configs, c, "config.json"));
        }
        using var folder = StableDiffusionPipeline.Load(folderPath);
        using var single = StableDiffusionPipeline.Load(file, new PipelineLoadOptions { ConfigDir = configs, TokenizerDir = Tokenizer });

        // Then the tensors match, the CLIP files from elsewhere pad with '!', and the family's scheduler predicts v
        AssertSameTensors(folder, single);
        Assert.Equal(0, single.Tokenizer.PadId);
        Assert.Equal(PredictionType.VPrediction, single.SchedulerConfig.PredictionType);
    }

    [Fact]
    public void Sd2OriginalFile_WithA24thResblockAndTextProjection_IgnoresThem()
    {
        // Given the SD 2.x-shaped file as OpenCLIP writes it: one more resblock than used, a projection and logit scale
        var folderPath = SingleFileTestData.Sd2TinyFolder();
        var written = SingleFileTestData.ToSingleFile(folderPath, LdmTextLayout.OpenClip);
        var extra = new Dictionary<string, Tensor>();
        using (var st = SafeTensorsFile.Open(written))
            foreach (var key in st.Entries.Keys.Where(k => k.StartsWith("cond_stage_model.model.transformer.resblocks.1.")))
                extra[key.Replace("resblocks.1.", "resblocks.2.")] = st.Read(key).Plus(1);
        extra["cond_stage_model.model.text_projection"] = torch.ones(32, 32);
        extra["cond_stage_model.model.logit_scale"] = torch.tensor(4.6f);
        // What diffusers' convert_diffusers_to_original_stable_diffusion.py writes for a text encoder file that stored position_ids
        extra["cond_stage_model.model.text_model.embeddings.position_ids"] = TensorExtensions.Arange(77).unsqueeze(0);
        var original = SingleFileTestData.Rewrite(written, extra: extra, prefix: "state_dict.");

        // When it is loaded (nested under state_dict, as some exporters write)
        using var folder = StableDiffusionPipeline.Load(folderPath);
        using var single = StableDiffusionPipeline.Load(original, new PipelineLoadOptions { ConfigDir = folderPath });

        // Then the text encoder keeps its 2 layers and the weights match the folder's
        Assert.Equal(2, single.TextEncoder.Config.NumHiddenLayers);
        AssertSameTensors(folder, single);
    }

    [Fact]
    public void GenerateFromSingleFile_EqualsGenerateFromFolder_Bitwise()
    {
        // Given the tiny SD 1.x reference as a folder and as one file
        var file = SingleFileTestData.Sd1TinyFile();
        using var folder = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        using var single = StableDiffusionPipeline.Load(file, new PipelineLoadOptions { ConfigDir = TestPaths.TinySd1 });

        // When both generate with the same seed
        var options = new SamplingOptions { Steps = 3, GuidanceScale = 5 };
        using var a = folder.Generate("a red circle", "", options, seed: 7, height: 32, width: 32);
        using var b = single.Generate("a red circle", "", options, seed: 7, height: 32, width: 32);

        // Then the images are bitwise identical
        Assert.True(Tensors.Identical(a, b));
    }

    [Fact]
    public void Convert_ThenLoad_RoundTripsTheFolder()
    {
        // Given the SD 2.x-shaped folder as one file
        var folderPath = SingleFileTestData.Sd2TinyFolder();
        var file = SingleFileTestData.ToSingleFile(folderPath, LdmTextLayout.OpenClip);

        // When it is converted back to a folder and that folder back to one file
        var converted = Path.Combine(TestPaths.NewTempDir(), "converted");
        using (var single = StableDiffusionPipeline.Load(file, new PipelineLoadOptions { ConfigDir = folderPath }))
            single.Save(converted);
        var again = SingleFileTestData.ToSingleFile(converted, LdmTextLayout.OpenClip);

        // Then the converted folder loads to the original tensors, and the second file equals the first byte for byte
        using var original = StableDiffusionPipeline.Load(folderPath);
        using var reloaded = StableDiffusionPipeline.Load(converted);
        AssertSameTensors(original, reloaded);
        Assert.Equal(0, reloaded.Tokenizer.PadId);
        Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(again));
    }

    [Fact]
    public void SingleFile_WithoutConfig_OfNoKnownFamily_FailsNamingTheWidth()
    {
        var file = SingleFileTestData.Sd1TinyFile();
        var e = Assert.Throws<ImagicException>(() => StableDiffusionPipeline.Load(file, new PipelineLoadOptions { TokenizerDir = Tokenizer }));
        Assert.Contains("cross-attention width is 32", e.Message);
        Assert.Contains("--config", e.Message);
    }

    [Fact]
    public void SingleFile_WithAMissingKey_FailsNamingIt()
    {
        const string dropped = "model.diffusion_model.output_blocks.4.1.proj_out.weight";
        var file = SingleFileTestData.Rewrite(SingleFileTestData.Sd1TinyFile(), keep: k => k != dropped);
        var e = Assert.Throws<ImagicException>(() => StableDiffusionPipeline.Load(file, new PipelineLoadOptions { ConfigDir = TestPaths.TinySd1 }));
        Assert.Contains("missing", e.Message);
        Assert.Contains(dropped, e.Message);
    }

    [Fact]
    public void SingleFile_WithAnUnknownKey_FailsNamingIt()
    {
        const string stray = "model.diffusion_model.input_blocks.1.1.extra.weight";
        var file = SingleFileTestData.Rewrite(SingleFileTestData.Sd1TinyFile(),
            extra: new Dictionary<string, Tensor> { [stray] = torch.zeros(2) });
        var e = Assert.Throws<ImagicException>(() => StableDiffusionPipeline.Load(file, new PipelineLoadOptions { ConfigDir = TestPaths.TinySd1 }));
        Assert.Contains(stray, e.Message);
    }

    [Fact]
    public void SingleFile_WithEmaWeightsAndScheduleBuffers_IgnoresThem()
    {
        var file = SingleFileTestData.Rewrite(SingleFileTestData.Sd1TinyFile(),
            extra: new Dictionary<string, Tensor>
            {
                ["model_ema.diffusion_modelinput_blocks00weight"] = torch.zeros(2),
                ["alphas_cumprod"] = torch.zeros(1000),
                ["cond_stage_model.transformer.text_model.embeddings.position_ids"] = TensorExtensions.Arange(77).unsqueeze(0),
            });
        using var folder = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        using var single = StableDiffusionPipeline.Load(file, new PipelineLoadOptions { ConfigDir = TestPaths.TinySd1 });
        AssertSameTensors(folder, single);
    }

    [Fact]
    public void SingleFile_WithEmaWeights_LoadsThemWhenAskedFor()
    {
        // Given a file with training weights and, as LDM's LitEma names them, different EMA weights of the UNet
        var source = SingleFileTestData.Sd1TinyFile();
        var ema = new Dictionary<string, Tensor>();
        using (var st = SafeTensorsFile.Open(source))
            foreach (var key in st.Entries.Keys.Where(k => k.StartsWith(LdmKeys.UNetPrefix)))
                ema[LdmKeys.EmaKey(key)] = st.Read(key).Plus(1);
        Assert.Contains("model_ema.diffusion_modelout2weight", ema.Keys);
        var file = SingleFileTestData.Rewrite(source, extra: ema);

        // When it is loaded with and without asking for the EMA
        using var folder = StableDiffusionPipeline.Load(TestPaths.TinySd1);
        using var plain = StableDiffusionPipeline.Load(file, new PipelineLoadOptions { ConfigDir = TestPaths.TinySd1 });
        using var averaged = StableDiffusionPipeline.Load(file, new PipelineLoadOptions { ConfigDir = TestPaths.TinySd1, UseEma = true });

        // Then the UNet holds the training weights by default and the EMA weights when asked; the rest is the same
        AssertSameTensors(folder, plain);
        foreach (var (name, p) in folder.UNet.named_parameters())
            Assert.True(Tensors.Identical(p.Plus(1), averaged.UNet.get_parameter(name)!), name);
        foreach (var (name, p) in folder.Vae!.named_parameters())
            Assert.True(Tensors.Identical(p, averaged.Vae!.get_parameter(name)!), name);
    }

    [Fact]
    public void SingleFile_WithoutEmaWeights_WhenAskedForThem_FailsSayingSo()
    {
        var e = Assert.Throws<ImagicException>(() => StableDiffusionPipeline.Load(SingleFileTestData.Sd1TinyFile(),
            new PipelineLoadOptions { ConfigDir = TestPaths.TinySd1, UseEma = true }));
        Assert.Contains("no EMA weights", e.Message);
    }

    [Theory]
    [InlineData("model.ckpt", "pickle")]
    [InlineData("model.pt", "convert it to .safetensors")]
    public void PickleCheckpoint_FailsSayingToConvertToSafetensors(string name, string expected)
    {
        var path = Path.Combine(TestPaths.NewTempDir(), name);
        File.WriteAllBytes(path, [0x80, 0x02]);
        var e = Assert.Throws<ImagicException>(() => StableDiffusionPipeline.Load(path));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void SdxlCheckpoint_IsRejected()
    {
        var path = SingleFileTestData.SparseFile(new Dictionary<string, long[]>
        {
            ["model.diffusion_model.input_blocks.0.0.weight"] = [320, 4, 3, 3],
            ["conditioner.embedders.0.transformer.text_model.final_layer_norm.weight"] = [768],
            ["conditioner.embedders.1.model.ln_final.weight"] = [1280],
        });
        var e = Assert.Throws<ImagicException>(() => SingleFileCheckpoint.Open(path));
        Assert.Contains("SDXL", e.Message);
    }

    [Fact]
    public void InpaintingCheckpoint_IsRejected()
    {
        var shapes = SingleFileTestData.OriginalLayout(SingleFileTestData.Sd15);
        shapes["model.diffusion_model.input_blocks.0.0.weight"] = [320, 9, 3, 3];
        var e = Assert.Throws<ImagicException>(() => SingleFileCheckpoint.Open(SingleFileTestData.SparseFile(shapes)));
        Assert.Contains("inpainting", e.Message);
        Assert.Contains("9 input channels", e.Message);
    }

    [Fact]
    public void FolderModel_WithAConfigFolder_FailsSayingItHasItsOwnConfigs()
    {
        var e = Assert.Throws<ImagicException>(() => StableDiffusionPipeline.Load(TestPaths.TinySd1, new PipelineLoadOptions { ConfigDir = TestPaths.TinySd1 }));
        Assert.Contains("has its own configs", e.Message);
    }

    [Fact]
    public void FileWithoutAUNet_IsAnUnknownFamily()
    {
        var path = SingleFileTestData.SparseFile(new Dictionary<string, long[]> { ["encoder.layer.0.weight"] = [4, 4] });
        var e = Assert.Throws<ImagicException>(() => SingleFileCheckpoint.Open(path));
        Assert.Contains("not a Stable Diffusion checkpoint of a known family", e.Message);
    }
}
