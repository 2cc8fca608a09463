using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using Imagic.Editing;

namespace Imagic.Tests.Editing;

/// <summary>
/// <see cref="ImagicOptions.TrainingOnly"/>: what a kept training state is keyed by. A stage C setting left in it would
/// make the benchmark train again for a stage-C-only change; a training setting reset by it would reuse a state trained
/// with other settings. Every option must be classified here, so that a new one cannot slip through unclassified.
/// </summary>
public class ImagicOptionsTests
{
    /// <summary>The settings that do not change what stages A and B compute (the seed reaches them through the case).</summary>
    static readonly string[] NotTraining =
    [
        "seed", "eta_sweep", "eta", "checkpoint_every", "sampling_steps", "guidance_scale", "guidance_rescale", "ddim_eta",
        "sampling_start", "noise_from_eta", "guidance_ramp", "forget", "forget_power", "mask",
        "share_attention", "guidance_negative",
    ];

    static readonly string[] Training =
    [
        "embedding_steps", "embedding_lr", "finetune_steps", "finetune_lr", "finetune_method", "lora_rank", "lora_alpha",
        "lora_lr", "gradient_checkpointing", "embedding_batch", "finetune_batch", "timestep_sampling", "input_latents",
        "finetune_unconditional",
    ];

    static IEnumerable<PropertyInfo> Options() => typeof(ImagicOptions).GetProperties()
        .Where(p => p.GetCustomAttribute<JsonPropertyNameAttribute>() is not null);

    static string Name(PropertyInfo p) => p.GetCustomAttribute<JsonPropertyNameAttribute>()!.Name;

    [Fact]
    public void EveryOption_IsClassified()
    {
        var names = Options().Select(Name).OrderBy(n => n).ToArray();
        Assert.Equal(NotTraining.Concat(Training).OrderBy(n => n).ToArray(), names);
    }

    public static TheoryData<string> Names() => new(NotTraining.Concat(Training));

    [Theory]
    [MemberData(nameof(Names))]
    public void TrainingOnly_KeepsExactlyTheTrainingSettings(string name)
    {
        var baseline = ImagicOptions.ForModel(TestPaths.BundledModel);
        var property = Options().Single(p => Name(p) == name);
        var changed = With(baseline, property, OtherValue(property.PropertyType, property.GetValue(baseline)));
        Assert.NotEqual(Json(baseline), Json(changed)); // the change is real

        bool keyed = Json(baseline.TrainingOnly()) != Json(changed.TrainingOnly());

        Assert.Equal(Training.Contains(name), keyed);
    }

    /// <summary>
    /// The benchmark keys a kept state by <see cref="ImagicOptions.TrainingOnly"/> with values at their type's default
    /// left out (<c>ImagicMethod.TrainingKey</c>): every stage C setting must reset to that default, or adding one (as
    /// <c>forget_power</c> was) makes every state kept before it unusable.
    /// </summary>
    [Fact]
    public void TrainingOnly_LeavesNoStageCSettingInTheBenchmarksKey()
    {
        var options = ImagicOptions.ForModel(TestPaths.BundledModel) with { ForgetPower = 3, GuidanceRamp = 0.5, Seed = 7 };

        string key = Imagic.Quality.ImagicMethod.TrainingKey(options);

        Assert.All(NotTraining, name => Assert.DoesNotContain($"\"{name}\"", key));
        Assert.Contains("\"embedding_steps\"", key);
        Assert.Contains("\"finetune_steps\"", key);
    }

    [Fact]
    public void ForgetWeight_IsMinEtaOneToThePower_AndThePowerIsChecked()
    {
        var linear = new ImagicOptions();
        var squared = new ImagicOptions { ForgetPower = 2 };
        Assert.Equal(1, linear.ForgetPower);
        Assert.Equal((0.0, 0.7, 1.0, 1.0), (linear.ForgetWeight(0), linear.ForgetWeight(0.7), linear.ForgetWeight(1), linear.ForgetWeight(1.3)));
        Assert.Equal(0.49, squared.ForgetWeight(0.7), 12);
        Assert.Equal(1.0, squared.ForgetWeight(1.2));
        foreach (var bad in new[] { 0, -1, 10.5, double.NaN })
            Assert.Contains("forget_power", Assert.Throws<ImagicException>(() => (linear with { ForgetPower = bad }).Validate()).Message);
    }

    static string Json(ImagicOptions options) => JsonSerializer.Serialize(options);

    /// <summary>A copy of <paramref name="options"/> with one init-only property set (the record's clone, then the setter).</summary>
    static ImagicOptions With(ImagicOptions options, PropertyInfo property, object? value)
    {
        var copy = options with { };
        property.SetValue(copy, value);
        return copy;
    }

    static object? OtherValue(Type type, object? current)
    {
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        if (underlying == typeof(int)) return (current as int? ?? 0) + 1;
        if (underlying == typeof(long)) return (current as long? ?? 0) + 1;
        if (underlying == typeof(double)) return (current as double? ?? 0) * 2 + 0.25;
        if (underlying == typeof(bool)) return !(current as bool? ?? false);
        if (underlying == typeof(double[])) return new[] { 0.35, 0.45 };
        if (underlying.IsEnum)
        {
            var values = Enum.GetValues(underlying);
            int index = Array.IndexOf(values, current);
            return values.GetValue((index + 1) % values.Length);
        }
        throw new NotSupportedException($"No other value for {type.Name}: add one here.");
    }
}
