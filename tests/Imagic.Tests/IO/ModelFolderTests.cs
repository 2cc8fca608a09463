using System.Text.Json.Nodes;
using Imagic.IO;

namespace Imagic.Tests.IO;

public class ModelFolderTests
{
    /// <summary>
    /// A writable copy of tiny-sd1's layout: model_index.json, every config, and empty stand-ins for the
    /// weights (ModelFolder only checks that they exist).
    /// </summary>
    static string MakeSkeleton()
    {
        var root = TestPaths.NewTempDir("imagic-model");
        foreach (var file in Directory.EnumerateFiles(TestPaths.TinySd1, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(TestPaths.TinySd1, file);
            if (relative.StartsWith("reference"))
                continue;
            var target = Path.Combine(root, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            if (file.EndsWith(".safetensors"))
                File.WriteAllBytes(target, []);
            else
                File.WriteAllText(target, File.ReadAllText(file));
        }
        return root;
    }

    static void EditModelIndex(string root, Action<JsonObject> edit)
    {
        var path = Path.Combine(root, "model_index.json");
        var index = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(index);
        File.WriteAllText(path, index.ToJsonString());
    }

    [Fact]
    public void Open_TinySd1_FindsEveryComponentAndTheVae()
    {
        var folder = ModelFolder.Open(TestPaths.TinySd1);

        Assert.Equal("StableDiffusionPipeline", folder.PipelineClassName);
        Assert.Equal("DDIMScheduler", folder.SchedulerClassName);
        Assert.NotNull(folder.VaeDir);
        Assert.True(File.Exists(folder.SchedulerConfigPath));
        Assert.Null(folder.ImagicDefaultsPath);
        Assert.EndsWith("diffusion_pytorch_model.safetensors", folder.WeightsFile(folder.UNetDir));
        Assert.EndsWith("diffusion_pytorch_model.safetensors", folder.WeightsFile(folder.VaeDir!));
        Assert.EndsWith("model.safetensors", folder.WeightsFile(folder.TextEncoderDir));
        Assert.Equal(8, JsonConfig.GetInt(folder.ReadConfig(folder.UNetDir), "attention_head_dim", 0));
        Assert.True(File.Exists(Path.Combine(folder.TokenizerDir, "vocab.json")));
    }

    [Fact]
    public void Open_MissingFolder_FailsNamingIt()
    {
        var dir = Path.Combine(TestPaths.NewTempDir(), "nope");

        var e = Assert.Throws<ImagicException>(() => ModelFolder.Open(dir));

        Assert.Contains("does not exist", e.Message);
        Assert.Contains(dir, e.Message);
    }

    [Fact]
    public void Open_FolderWithoutModelIndex_ExplainsTheExpectedLayout()
    {
        var dir = TestPaths.NewTempDir();

        var e = Assert.Throws<ImagicException>(() => ModelFolder.Open(dir));

        Assert.Contains("model_index.json is missing", e.Message);
        Assert.Contains("diffusers", e.Message);
    }

    [Fact]
    public void Open_MalformedModelIndex_FailsNamingTheFile()
    {
        var root = MakeSkeleton();
        File.WriteAllText(Path.Combine(root, "model_index.json"), "{ \"unet\": [\"diffusers\", ");

        var e = Assert.Throws<ImagicException>(() => ModelFolder.Open(root));

        Assert.Contains(Path.Combine(root, "model_index.json"), e.Message);
        Assert.Contains("not valid JSON", e.Message);
    }

    [Fact]
    public void Open_UnknownUNetClass_FailsListingWhatIsSupported()
    {
        var root = MakeSkeleton();
        EditModelIndex(root, index => index["unet"] = new JsonArray("diffusers", "UNet2DModel"));

        var e = Assert.Throws<ImagicException>(() => ModelFolder.Open(root));

        Assert.Contains("Unknown model type", e.Message);
        Assert.Contains("UNet2DModel", e.Message);
        Assert.Contains("UNet2DConditionModel", e.Message);
        Assert.Contains("CLIPTextModel", e.Message);
    }

    [Fact]
    public void Open_UnknownTextEncoderClass_FailsListingWhatIsSupported()
    {
        var root = MakeSkeleton();
        EditModelIndex(root, index => index["text_encoder"] = new JsonArray("transformers", "T5EncoderModel"));

        var e = Assert.Throws<ImagicException>(() => ModelFolder.Open(root));

        Assert.Contains("T5EncoderModel", e.Message);
        Assert.Contains("CLIPTextModel", e.Message);
    }

    [Fact]
    public void Open_UnknownPipelineClass_IsAcceptedAndRecorded()
    {
        var root = MakeSkeleton();
        EditModelIndex(root, index => index["_class_name"] = "MyCustomPipeline");

        var folder = ModelFolder.Open(root);

        Assert.Equal("MyCustomPipeline", folder.PipelineClassName);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Open_PipelineWithoutVae_HasNullVaeDir(bool asNullPair)
    {
        var root = MakeSkeleton();
        EditModelIndex(root, index =>
        {
            if (asNullPair) index["vae"] = new JsonArray(null, null);
            else index.Remove("vae");
        });

        var folder = ModelFolder.Open(root);

        Assert.Null(folder.VaeDir);
    }

    [Fact]
    public void Open_ComponentFolderMissing_FailsNamingIt()
    {
        var root = MakeSkeleton();
        Directory.Delete(Path.Combine(root, "unet"), recursive: true);

        var e = Assert.Throws<ImagicException>(() => ModelFolder.Open(root));

        Assert.Contains(Path.Combine(root, "unet"), e.Message);
    }

    [Fact]
    public void Open_ImagicDefaultsPresent_ExposesItsPath()
    {
        var root = MakeSkeleton();
        File.WriteAllText(Path.Combine(root, "imagic_defaults.json"), "{}");

        var folder = ModelFolder.Open(root);

        Assert.Equal(Path.Combine(root, "imagic_defaults.json"), folder.ImagicDefaultsPath);
    }

    [Fact]
    public void ReadConfig_MissingUNetConfig_FailsNamingTheFile()
    {
        var root = MakeSkeleton();
        File.Delete(Path.Combine(root, "unet", "config.json"));
        var folder = ModelFolder.Open(root);

        var e = Assert.Throws<ImagicException>(() => folder.ReadConfig(folder.UNetDir));

        Assert.Contains(Path.Combine(root, "unet", "config.json"), e.Message);
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void ReadConfig_NotJson_FailsNamingTheFile()
    {
        var root = MakeSkeleton();
        File.WriteAllText(Path.Combine(root, "vae", "config.json"), "<html>oops</html>");
        var folder = ModelFolder.Open(root);

        var e = Assert.Throws<ImagicException>(() => folder.ReadConfig(folder.VaeDir!));

        Assert.Contains(Path.Combine(root, "vae", "config.json"), e.Message);
        Assert.Contains("not valid JSON", e.Message);
    }

    [Fact]
    public void WeightsFile_Missing_NamesFolderExpectedFilesAndRejectsPickles()
    {
        // Given a UNet folder holding only a PyTorch pickle
        var root = MakeSkeleton();
        var unet = Path.Combine(root, "unet");
        File.Delete(Path.Combine(unet, "diffusion_pytorch_model.safetensors"));
        File.WriteAllBytes(Path.Combine(unet, "diffusion_pytorch_model.bin"), [1, 2, 3]);
        var folder = ModelFolder.Open(root);

        // When its weights are asked for
        var e = Assert.Throws<ImagicException>(() => folder.WeightsFile(folder.UNetDir));

        // Then the message names the folder, the expected names, the pickle found, and the fix
        Assert.Contains(unet, e.Message);
        Assert.Contains("diffusion_pytorch_model.safetensors", e.Message);
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("diffusion_pytorch_model.bin", e.Message);
        Assert.Contains("not supported", e.Message);
        Assert.Contains("convert it to safetensors", e.Message);
    }

    [Fact]
    public void WeightsFile_OnlyFp16Variant_IsFound()
    {
        var root = MakeSkeleton();
        var vae = Path.Combine(root, "vae");
        File.Move(Path.Combine(vae, "diffusion_pytorch_model.safetensors"), Path.Combine(vae, "diffusion_pytorch_model.fp16.safetensors"));
        var folder = ModelFolder.Open(root);

        Assert.Equal(Path.Combine(vae, "diffusion_pytorch_model.fp16.safetensors"), folder.WeightsFile(folder.VaeDir!));
    }
}
