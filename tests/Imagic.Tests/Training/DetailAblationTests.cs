using Imagic.Evaluation;
using Imagic.Models;
using Imagic.Pipelines;
using Imagic.Training;
using Imagic.World;
using TorchSharp;

namespace Imagic.Tests.Training;

public class DetailAblationTests
{
    static StableDiffusionPipeline RandomPipeline(ShapesArchitecture a)
    {
        torch.manual_seed(0);
        var pipe = StableDiffusionPipeline.Create(Path.Combine(TestPaths.TinySd1, "tokenizer"),
            new ClipTextModel(a.TextEncoder), new UNet2DConditionModel(a.UNet), new AutoencoderKL(a.Vae), a.Scheduler);
        pipe.SetTrainable(false);
        return pipe;
    }

    [Fact]
    public void Variants_EachSwitchOffOnlyTheirDetail()
    {
        // Given world-v2 scenes, with clutter and a second object among them
        var scenes = new SceneSampler(4, version: WorldVersion.V2).Next(40);
        Assert.Contains(scenes, s => s.Detail!.Clutter is not null);
        Assert.Contains(scenes, s => s.Secondary is not null);
        var variant = DetailAblation.Variants.ToDictionary(v => v.Name, v => v.Apply);

        foreach (var s in scenes)
        {
            // Then each variant removes its detail and keeps the rest, captions included
            Assert.Equal(s, variant["as sampled"](s));
            Assert.Equal(s with { Detail = s.Detail! with { TextureAmplitude = 0 } }, variant["no texture"](s));
            Assert.Equal(s with { Detail = s.Detail! with { GradientAmplitude = 0 } }, variant["no gradient"](s));
            Assert.Equal(s with { Detail = s.Detail! with { Clutter = null } }, variant["no clutter"](s));
            var plain = variant["no object detail"](s);
            Assert.All(plain.Objects, o => Assert.Equal(ObjectDetail.None, o.Detail));
            Assert.Equal(s.Detail, plain.Detail);
            var bare = variant["no detail at all"](s);
            Assert.Equal(plain.Objects, bare.Objects);
            Assert.Equal((0.0, 0.0, (Clutter?)null), (bare.Detail!.TextureAmplitude, bare.Detail.GradientAmplitude, bare.Detail.Clutter));
            Assert.All(DetailAblation.Variants, v => Assert.Equal(Captioner.Canonical(s), Captioner.Canonical(v.Apply(s))));
        }
    }

    [Fact]
    public void Measure_OnAWorldV2Architecture_GivesALossPerVariantAndTimestep()
    {
        using var pipe = RandomPipeline(ShapesModelConfigs.V2);

        var rows = DetailAblation.Measure(pipe, scenes: 5, seed: 1, timesteps: [300, 900], batchSize: 3);

        Assert.Equal(DetailAblation.Variants.Select(v => v.Name), rows.Select(r => r.Variant));
        Assert.All(rows, r =>
        {
            Assert.Equal([300, 900], r.Loss.Keys.Order());
            Assert.All(r.Loss.Values, l => Assert.True(double.IsFinite(l) && l > 0, $"{r.Variant}: loss {l}"));
        });
        // the same noise in every row, so a row differs from "as sampled" only through its scenes' pixels
        Assert.NotEqual(rows[0].Loss[300], rows.Single(r => r.Variant == "no texture").Loss[300]);
    }

    [Fact]
    public void Measure_OnAWorldV1Model_FailsWithAClearMessage()
    {
        using var pipe = RandomPipeline(ShapesModelConfigs.Default);
        var error = Assert.Throws<ImagicException>(() => DetailAblation.Measure(pipe, scenes: 2));
        Assert.Contains("world-v2", error.Message);
    }
}
