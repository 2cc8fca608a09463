using Imagic.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.IO;

public class SafeTensorsTests
{
    [Fact]
    public void Open_ReferenceFile_ListsTensorsWithShapes()
    {
        using var file = SafeTensorsFile.Open(TestPaths.ReferenceTensors);
        Assert.Equal(new long[] { 11, 77 }, file.Entries["token_ids"].Shape);
        Assert.Equal(SafeTensorsDType.I64, file.Entries["token_ids"].DType);
    }

    [Fact]
    public void SaveThenLoad_RoundTripsEveryDType()
    {
        var dir = TestPaths.NewTempDir();
        var path = Path.Combine(dir, "t.safetensors");
        var f32 = torch.randn(3, 5);
        var tensors = new Dictionary<string, Tensor>
        {
            ["f32"] = f32,
            ["f16"] = f32.to_type(ScalarType.Float16),
            ["bf16"] = f32.to_type(ScalarType.BFloat16),
            ["i64"] = TensorExtensions.Arange(7, ScalarType.Int64),
        };
        SafeTensors.Save(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });

        using var file = SafeTensorsFile.Open(path);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.True(file.Read("f32").eq(f32).all().item<bool>());
        Assert.True(file.Read("i64").eq(tensors["i64"]).all().item<bool>());
        // fp16/bf16 load as float32 by default, holding the rounded values.
        Assert.Equal(ScalarType.Float32, file.Read("f16").dtype);
        Assert.True(file.Read("f16").allclose(f32, rtol: 1e-3, atol: 1e-3));
        Assert.True(file.Read("bf16").allclose(f32, rtol: 1e-2, atol: 1e-2));
        Assert.Equal(ScalarType.Float16, file.Read("f16", ScalarType.Float16).dtype);
    }
}
