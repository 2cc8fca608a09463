using Imagic.IO;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Imagic.Tests.IO;

/// <summary>An attention block shaped like diffusers' VAE mid-block attention, so keys read "to_out.0.weight".</summary>
sealed class TinyAttn : Module<Tensor, Tensor>
{
    public GroupNorm group_norm;
    public Linear to_q;
    public Linear to_k;
    public Linear to_v;
    public ModuleList<Module<Tensor, Tensor>> to_out;

    public TinyAttn(int dim) : base(nameof(TinyAttn))
    {
        group_norm = GroupNorm(2, dim);
        to_q = Linear(dim, dim);
        to_k = Linear(dim, dim);
        to_v = Linear(dim, dim);
        to_out = ModuleList<Module<Tensor, Tensor>>(Linear(dim, dim));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => to_out[0].forward(to_q.forward(x));
}

/// <summary>Holds attentions in a ModuleList, giving keys like "attentions.0.to_q.weight", plus a buffer.</summary>
sealed class TinyMidBlock : Module<Tensor, Tensor>
{
    public ModuleList<TinyAttn> attentions;
    public Tensor scale;

    public TinyMidBlock(int dim) : base(nameof(TinyMidBlock))
    {
        attentions = ModuleList(new TinyAttn(dim));
        scale = torch.ones(dim);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => attentions[0].forward(x) * scale;
}

public class StateDictLoaderTests
{
    const int Dim = 4;

    static Dictionary<string, Tensor> RandomStateDict(TinyMidBlock module)
    {
        var dict = new Dictionary<string, Tensor>();
        foreach (var (name, p) in module.named_parameters())
            dict[name] = torch.randn(p.shape);
        foreach (var (name, b) in module.named_buffers())
            dict[name] = torch.randn(b.shape);
        return dict;
    }

    static string Save(Dictionary<string, Tensor> tensors)
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "weights.safetensors");
        SafeTensors.Save(path, tensors);
        return path;
    }

    static void AssertLoaded(TinyMidBlock module, Dictionary<string, Tensor> expected, double atol = 0)
    {
        var actual = module.state_dict();
        Assert.Equal(expected.Count, actual.Count);
        foreach (var (name, value) in expected)
            Assert.True(actual[name].allclose(value.to_type(ScalarType.Float32), rtol: 0, atol: atol), $"{name} differs");
    }

    [Fact]
    public void Load_MatchingCheckpoint_CopiesEveryParameterAndBuffer()
    {
        // Given a checkpoint holding every parameter and buffer of the module
        var module = new TinyMidBlock(Dim);
        var expected = RandomStateDict(module);
        using var file = SafeTensorsFile.Open(Save(expected));

        // When it is loaded
        StateDictLoader.Load(module, file);

        // Then every tensor holds the checkpoint value, and the parameters are still trainable
        AssertLoaded(module, expected);
        Assert.Equal(10, module.named_parameters().Count()); // group_norm + 4 linears, weight and bias each
        Assert.All(module.parameters(), p => Assert.True(p.requires_grad));
    }

    [Fact]
    public void Load_ExtraKey_FailsNamingTheKey()
    {
        var module = new TinyMidBlock(Dim);
        var tensors = RandomStateDict(module);
        tensors["attentions.0.to_z.weight"] = torch.zeros(Dim, Dim);
        using var file = SafeTensorsFile.Open(Save(tensors));

        var e = Assert.Throws<ImagicException>(() => StateDictLoader.Load(module, file, componentName: "VAE"));

        Assert.Contains("'attentions.0.to_z.weight'", e.Message);
        Assert.Contains("VAE", e.Message);
        Assert.Contains(file.Path, e.Message);
    }

    [Fact]
    public void Load_ShapeMismatch_FailsNamingKeyAndBothShapes()
    {
        var module = new TinyMidBlock(Dim);
        var tensors = RandomStateDict(module);
        tensors["attentions.0.to_k.weight"] = torch.zeros(Dim, Dim + 1);
        using var file = SafeTensorsFile.Open(Save(tensors));

        var e = Assert.Throws<ImagicException>(() => StateDictLoader.Load(module, file));

        Assert.Contains("'attentions.0.to_k.weight'", e.Message);
        Assert.Contains("[4, 5]", e.Message);
        Assert.Contains("[4, 4]", e.Message);
    }

    [Fact]
    public void Load_MissingParameter_FailsNamingItAndTheCount()
    {
        var module = new TinyMidBlock(Dim);
        var tensors = RandomStateDict(module);
        tensors.Remove("attentions.0.to_v.bias");
        tensors.Remove("attentions.0.to_out.0.weight");
        using var file = SafeTensorsFile.Open(Save(tensors));

        var e = Assert.Throws<ImagicException>(() => StateDictLoader.Load(module, file));

        Assert.Contains("'attentions.0.to_v.bias'", e.Message);
        Assert.Contains("'attentions.0.to_out.0.weight'", e.Message);
        Assert.Contains("2 parameter(s) are missing", e.Message);
    }

    [Fact]
    public void Load_Fp16Checkpoint_LoadsIntoFloat32Parameters()
    {
        var module = new TinyMidBlock(Dim);
        var half = RandomStateDict(module).ToDictionary(kv => kv.Key, kv => kv.Value.to_type(ScalarType.Float16));
        using var file = SafeTensorsFile.Open(Save(half));

        StateDictLoader.Load(module, file);

        Assert.All(module.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        AssertLoaded(module, half); // fp16 → fp32 is exact
    }

    [Fact]
    public void Load_IgnoredKey_IsSkippedSilently()
    {
        var module = new TinyMidBlock(Dim);
        var tensors = RandomStateDict(module);
        tensors["text_model.embeddings.position_ids"] = TensorExtensions.Arange(77, ScalarType.Int64).unsqueeze(0);
        using var file = SafeTensorsFile.Open(Save(tensors));

        StateDictLoader.Load(module, file, ignoredKeys: new HashSet<string> { "text_model.embeddings.position_ids" });

        tensors.Remove("text_model.embeddings.position_ids");
        AssertLoaded(module, tensors);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Load_LegacyVaeAttentionNames_LoadThroughRemapVae(bool convShaped)
    {
        // Given a checkpoint using query/key/value/proj_attn, optionally as [out, in, 1, 1] conv weights
        var module = new TinyMidBlock(Dim);
        var expected = RandomStateDict(module);
        var legacy = expected.ToDictionary(
            kv => kv.Key.Replace("to_q", "query").Replace("to_k", "key").Replace("to_v", "value").Replace("to_out.0", "proj_attn"),
            kv => convShaped && kv.Key.EndsWith(".weight") && kv.Value.dim() == 2 ? kv.Value.reshape(Dim, Dim, 1, 1) : kv.Value);
        Assert.Contains("attentions.0.proj_attn.weight", legacy.Keys);
        using var file = SafeTensorsFile.Open(Save(legacy));

        // When it is loaded with the VAE remapping
        StateDictLoader.Load(module, file, LegacyKeys.RemapVae);

        // Then the values land in to_q/to_k/to_v/to_out.0
        AssertLoaded(module, expected);
    }

    [Fact]
    public void Load_OldAndNewNameForOneParameter_FailsNamingBoth()
    {
        var module = new TinyMidBlock(Dim);
        var tensors = RandomStateDict(module);
        tensors["attentions.0.query.weight"] = torch.zeros(Dim, Dim);
        using var file = SafeTensorsFile.Open(Save(tensors));

        var e = Assert.Throws<ImagicException>(() => StateDictLoader.Load(module, file, LegacyKeys.RemapVae));

        Assert.Contains("'attentions.0.query.weight'", e.Message);
        Assert.Contains("'attentions.0.to_q.weight'", e.Message);
    }

    [Fact]
    public void Load_IntegerTensorIntoFloatParameter_Fails()
    {
        var module = new TinyMidBlock(Dim);
        var tensors = RandomStateDict(module);
        tensors["attentions.0.to_q.bias"] = torch.zeros(Dim, dtype: ScalarType.Int32);
        using var file = SafeTensorsFile.Open(Save(tensors));

        var e = Assert.Throws<ImagicException>(() => StateDictLoader.Load(module, file));

        Assert.Contains("'attentions.0.to_q.bias'", e.Message);
        Assert.Contains("Int32", e.Message);
    }
}
