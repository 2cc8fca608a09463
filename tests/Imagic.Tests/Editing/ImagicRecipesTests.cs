using Imagic.Editing;
using Imagic.Training;

namespace Imagic.Tests.Editing;

/// <summary>The named recipes: every one validates everywhere, fast stays within a fifth of the paper's compute.</summary>
public class ImagicRecipesTests
{
    static string ModelWithDefaults(string json)
    {
        var dir = TestPaths.NewTempDir();
        File.WriteAllText(Path.Combine(dir, "imagic_defaults.json"), json);
        return dir;
    }

    public static TheoryData<string, string?> EveryRecipeOnEveryKindOfModel()
    {
        var data = new TheoryData<string, string?>();
        foreach (var model in new[] { TestPaths.TinySd1, TestPaths.BundledModel })
        {
            data.Add(model, null);
            foreach (var name in ImagicRecipes.Names) data.Add(model, name);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(EveryRecipeOnEveryKindOfModel))]
    public void Resolve_EveryRecipe_Validates(string model, string? recipe)
    {
        var options = ImagicRecipes.Resolve(model, recipe);

        options.Validate();
        Assert.True(options.EmbeddingSteps > 0 && options.FinetuneSteps > 0);
    }

    [Theory]
    [InlineData("tiny")]
    [InlineData("bundled")]
    public void FastRecipe_CostsAtMostAFifthOfThePapersTrainingCompute(string which)
    {
        string model = which == "tiny" ? TestPaths.TinySd1 : TestPaths.BundledModel;

        double fast = ImagicRecipes.TrainingCompute(ImagicRecipes.Resolve(model, ImagicRecipes.Fast));
        double paper = ImagicRecipes.TrainingCompute(ImagicRecipes.Resolve(model, ImagicRecipes.Paper));

        Assert.True(fast <= paper / 5, $"fast costs {fast} forward passes, more than a fifth of the paper's {paper}");
    }

    [Fact]
    public void Resolve_ModelWithoutDefaults_GivesThePaperByDefault_AndTheBuiltInFastRecipe()
    {
        Assert.Equal(ImagicRecipes.PaperOptions.ToJson(), ImagicRecipes.Resolve(TestPaths.TinySd1, null).ToJson());
        Assert.Equal(ImagicRecipes.FastOptions.ToJson(), ImagicRecipes.Resolve(TestPaths.TinySd1, ImagicRecipes.Fast).ToJson());
    }

    [Fact]
    public void Resolve_ModelsOwnFastRecipe_IsLaidOverItsDefaults()
    {
        var model = ModelWithDefaults("""{ "embedding_steps": 300, "guidance_scale": 2, "recipes": { "fast": { "embedding_steps": 50, "finetune_batch": 2 } } }""");

        var fast = ImagicRecipes.Resolve(model, ImagicRecipes.Fast);
        var defaults = ImagicRecipes.Resolve(model, null);

        Assert.Equal((50, 2, 2.0), (fast.EmbeddingSteps, fast.FinetuneBatch, fast.GuidanceScale));
        Assert.Equal((300, 1), (defaults.EmbeddingSteps, defaults.FinetuneBatch));
        Assert.Equal(ImagicRecipes.PaperOptions.ToJson(), ImagicRecipes.Resolve(model, ImagicRecipes.Paper).ToJson());
    }

    [Fact]
    public void Resolve_RecipeWithAnUnknownSetting_FailsNamingIt()
    {
        var model = ModelWithDefaults("""{ "recipes": { "fast": { "finetune_stepz": 50 } } }""");

        var e = Assert.Throws<ImagicException>(() => ImagicRecipes.Resolve(model, ImagicRecipes.Fast));

        Assert.Contains("finetune_stepz", e.Message);
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(2.5)]
    [InlineData(double.NaN)]
    public void Validate_NoiseFromEtaOutsideTheEtaRange_FailsNamingIt(double from)
    {
        var e = Assert.Throws<ImagicException>(() => (new ImagicOptions() with { NoiseFromEta = from }).Validate());
        Assert.Contains("noise_from_eta", e.Message);
        (new ImagicOptions() with { NoiseFromEta = 1.0, SamplingStart = SamplingStart.Inversion }).Validate();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-0.5)]
    [InlineData(2.5)]
    [InlineData(double.NaN)]
    public void Validate_GuidanceRampNotAPositiveEta_FailsNamingIt(double ramp)
    {
        var e = Assert.Throws<ImagicException>(() => (new ImagicOptions() with { GuidanceRamp = ramp }).Validate());
        Assert.Contains("guidance_ramp", e.Message);
        (new ImagicOptions() with { GuidanceRamp = 0.05 }).Validate();
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void Validate_ShareAttentionNotAFraction_FailsNamingIt(double fraction)
    {
        var e = Assert.Throws<ImagicException>(() => (new ImagicOptions() with { ShareAttention = fraction }).Validate());
        Assert.Contains("share_attention", e.Message);
        (new ImagicOptions() with { ShareAttention = 1 }).Validate();
        Assert.Equal(13, (new ImagicOptions() with { ShareAttention = 0.5, SamplingSteps = 25 }).SharedAttentionSteps);
    }

    [Fact]
    public void GuidanceAt_RampsFromOneAtEtaZeroToTheScaleAtTheRamp_OrIsTheScaleEverywhereWithoutIt()
    {
        var ramped = new ImagicOptions { GuidanceScale = 5, GuidanceRamp = 0.8 };
        Assert.Equal([1.0, 3.0, 5.0, 5.0], new[] { 0, 0.4, 0.8, 1.2 }.Select(ramped.GuidanceAt));
        Assert.All(new[] { 0, 0.4, 1.2 }, eta => Assert.Equal(5.0, (ramped with { GuidanceRamp = null }).GuidanceAt(eta)));
        // Guidance below 1 ramps down toward it the same way.
        Assert.Equal(0.75, (ramped with { GuidanceScale = 0.5 }).GuidanceAt(0.4));
    }

    [Fact]
    public void Resolve_UnknownRecipe_FailsListingTheNames()
    {
        var e = Assert.Throws<ImagicException>(() => ImagicRecipes.Resolve(TestPaths.TinySd1, "slow"));
        Assert.Contains("paper, fast", e.Message);
    }

    [Fact]
    public void TrainingCompute_CountsPairsAndTheirCost()
    {
        var paper = ImagicRecipes.PaperOptions;
        Assert.Equal(1000 * 2 + 1500 * 3, ImagicRecipes.TrainingCompute(paper));
        var batched = paper with { EmbeddingSteps = 10, FinetuneSteps = 10, FinetuneBatch = 4, FinetuneMethod = FinetuneMethod.Lora, FinetuneUnconditional = true };
        Assert.Equal(10 * 2 + 10 * 4 * 2 * 2, ImagicRecipes.TrainingCompute(batched));
    }
}
